"""The address policy of input references: which addresses a reference may reach, checked at connect time.

address_allowed, PolicyResolver and open_below are called directly with private, link-local and public
addresses: nothing here connects to them.  The end-to-end tests use loopback only: origin servers on 127.0.0.1,
127.0.0.2 and ::1, and gateways under the default policy or with ``allowednetworks: [127.0.0.2/32]``.
"""
from __future__ import annotations

import asyncio
import http.server
import json
import os
import socket
import threading
from urllib.parse import quote

import pytest
from lxml import etree

from wpsgate.jobs.local_files import FileRefused, allowed_roots, open_below
from wpsgate.jobs.staging import PolicyResolver, ReferenceDenied, address_allowed, parse_networks

from .gateway import NS, GatewayProcess, exception_of
from .schemas import assert_valid

# --- address_allowed --------------------------------------------------------------------------------------

DENIED = {
    "loopback": ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1"],
    "private": ["10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.0.1", "192.168.255.254",
                "fc00::1", "fd12:3456:789a::1"],
    "link-local": ["169.254.169.254", "169.254.0.1", "fe80::1", "fe80::1%eth0", "fe80::a9fe:a9fe"],
    "cgnat": ["100.64.0.1", "100.127.255.254"],
    "multicast": ["224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1"],
    "unspecified": ["0.0.0.0", "::"],
    "this-network": ["0.1.2.3"],
    "reserved": ["240.0.0.1", "255.255.255.255"],
    "documentation": ["192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1"],
    "benchmarking": ["198.18.0.1", "198.19.255.254"],
    "ietf-protocol": ["192.0.0.1"],
    "ipv4-mapped": ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
                    "::ffff:0.0.0.0"],
    "ipv4-compatible": ["::127.0.0.1", "::10.0.0.1"],
    "nat64-of-special": ["64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe"],
    "teredo": ["2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "discard-only": ["100::1"],
}
# IPv6 forms that carry an IPv4 address the policy must see through, and the deprecated site-local range
# (RFC 3879: fec0::/10, private in effect)
DENIED_TUNNELLED = {
    "6to4-of-loopback": "2002:7f00:1::1",
    "6to4-of-link-local": "2002:a9fe:a9fe::1",
    "6to4-of-private": "2002:a00:1::1",
    "site-local": "fec0::1",
}
PUBLIC = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1", "2001:4860:4860::8888",
          "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", [a for group in DENIED.values() for a in group],
                         ids=[f"{k}-{a}" for k, group in DENIED.items() for a in group])
def test_special_addresses_are_denied_by_default(address):
    assert address_allowed(address) is False


@pytest.mark.parametrize("address", list(DENIED_TUNNELLED.values()), ids=list(DENIED_TUNNELLED))
def test_tunnelled_and_site_local_addresses_are_denied_by_default(address):
    assert address_allowed(address) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_public_unicast_addresses_are_allowed(address):
    assert address_allowed(address) is True


def test_allow_list_admits_exactly_its_network():
    allowed = parse_networks(["10.1.0.0/16"])
    for address in ("10.1.0.0", "10.1.2.3", "10.1.255.255", "::ffff:10.1.2.3"):
        assert address_allowed(address, allowed), address
    for address in ("10.0.255.255", "10.2.0.0", "10.0.0.1", "127.0.0.1", "169.254.169.254", "192.168.1.1",
                    "::1", "fc00::1"):
        assert not address_allowed(address, allowed), address
    assert address_allowed("8.8.8.8", allowed)  # a list widens the policy, it does not replace it


def test_allow_list_of_ipv6_and_single_hosts():
    allowed = parse_networks(["fd00:1::/32", "127.0.0.2/32", "169.254.169.254"])
    assert address_allowed("fd00:1::5", allowed) and address_allowed("fd00:1:ffff::1", allowed)
    assert not address_allowed("fd00:2::1", allowed) and not address_allowed("fc00::1", allowed)
    assert address_allowed("127.0.0.2", allowed) and not address_allowed("127.0.0.1", allowed)
    assert address_allowed("169.254.169.254", allowed) and not address_allowed("169.254.169.253", allowed)


def test_parse_networks_accepts_host_bits_and_refuses_garbage():
    assert parse_networks(["10.1.2.3/16"]) == parse_networks(["10.1.0.0/16"])
    assert parse_networks([]) == ()
    with pytest.raises(ValueError):
        parse_networks(["not-a-network"])


# --- PolicyResolver ---------------------------------------------------------------------------------------


class FakeResolver:
    """Stands in for the system resolver: returns the chosen addresses, records what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        self.asked.append((host, port))
        result = []
        for address in self.addresses:
            if ":" in address:
                result.append((socket.AF_INET6, (address, port, 0, 0)))
            else:
                result.append((socket.AF_INET, (address, port)))
        return result


def resolve_with(fake: FakeResolver, allowed=(), host="origin.test", port=80):
    resolver = PolicyResolver(allowed=allowed)
    resolver.inner = fake
    return asyncio.run(resolver.resolve(host, port))


def test_policy_resolver_keeps_only_allowed_addresses():
    fake = FakeResolver("127.0.0.1", "8.8.8.8", "10.0.0.1", "2001:4860:4860::8888", "::1", "169.254.169.254")
    result = resolve_with(fake, port=8080)
    assert result == [(socket.AF_INET, ("8.8.8.8", 8080)), (socket.AF_INET6, ("2001:4860:4860::8888", 8080, 0, 0))]
    assert fake.asked == [("origin.test", 8080)]


@pytest.mark.parametrize("addresses", [("127.0.0.1",), ("127.0.0.1", "::1"), ("10.0.0.1", "169.254.169.254", "fe80::1"),
                                       ("::ffff:127.0.0.1",), ()],
                         ids=["loopback", "loopback-both-families", "private-and-link-local", "mapped", "nothing"])
def test_policy_resolver_raises_when_no_address_is_allowed(addresses):
    with pytest.raises(ReferenceDenied):
        resolve_with(FakeResolver(*addresses))


def test_policy_resolver_honours_its_allow_list():
    fake = FakeResolver("127.0.0.1", "127.0.0.2", "10.0.0.1")
    assert resolve_with(fake, parse_networks(["127.0.0.2/32"]), port=81) == [(socket.AF_INET, ("127.0.0.2", 81))]
    with pytest.raises(ReferenceDenied):
        resolve_with(FakeResolver("127.0.0.1"), parse_networks(["127.0.0.2/32"]))


# --- open_below: file:// paths, opened with no symlink followed ---------------------------------------------


@pytest.fixture
def tree(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "file.txt").write_text("inside")
    (tmp_path / "data2").mkdir()
    (tmp_path / "data2" / "secret.txt").write_text("secret")
    (data / "escape.txt").symlink_to(tmp_path / "data2" / "secret.txt")
    (data / "escape-dir").symlink_to(tmp_path / "data2")
    (data / "inner.txt").symlink_to(data / "sub" / "file.txt")
    (tmp_path / "link-to-data").symlink_to(data)
    return tmp_path


def opened(path, roots):
    """The content of the file open_below opens, or None when it refuses."""
    try:
        handle = open_below(path, allowed_roots(roots))
    except FileRefused:
        return None
    with os.fdopen(handle, "rb") as stream:
        return stream.read().decode()


def test_path_inside_a_root_is_allowed(tree):
    data = str(tree / "data")
    assert opened(str(tree / "data" / "sub" / "file.txt"), [data]) == "inside"
    assert opened(str(tree / "data" / "sub" / "file.txt"), [data + "/"]) == "inside"
    # the operator's root may itself be a symlink: reachable by its configured name and by its real path
    assert opened(str(tree / "data" / "sub" / "file.txt"), [str(tree / "link-to-data")]) == "inside"
    assert opened(str(tree / "link-to-data" / "sub" / "file.txt"), [str(tree / "link-to-data")]) == "inside"
    assert opened(str(tree / "data2" / "secret.txt"), [data, str(tree / "data2")]) == "secret"


@pytest.mark.parametrize("relative", [
    "data2/secret.txt", "data/../data2/secret.txt", "data/sub/../../data2/secret.txt", "data/escape.txt",
    "data/escape-dir/secret.txt", "data/escape-dir", "data/..", ".", "data", "data/sub",
    "data/inner.txt", "data/sub/../sub/file.txt", "data/./sub/file.txt", "data//sub/file.txt",
    "link-to-data/sub/file.txt",
], ids=["outside", "dotdot", "dotdot-twice", "symlink-file", "symlink-dir-content", "symlink-dir", "parent",
        "tmp-root", "root-itself", "a-folder", "symlink-staying-inside", "dotdot-staying-inside", "dot",
        "empty-component", "symlink-to-root"])
def test_paths_escaping_the_root_or_through_symlinks_are_refused(tree, relative):
    assert opened(str(tree) + "/" + relative, [str(tree / "data")]) is None


def test_prefix_trick_is_refused(tree):
    """/data does not admit /data2 (compared component-wise, not by string prefix)."""
    assert opened(str(tree / "data2" / "secret.txt"), [str(tree / "data")]) is None
    assert opened(str(tree / "data2"), [str(tree / "data")]) is None


def test_absolute_system_paths_and_no_roots_are_refused(tree):
    assert opened("/etc/passwd", [str(tree / "data")]) is None
    assert opened(str(tree / "data" / "sub" / "file.txt"), []) is None
    assert opened("/", [str(tree / "data")]) is None
    assert opened("relative/file.txt", [str(tree / "data")]) is None


def test_path_with_nul_byte_is_refused_not_an_error(tree):
    assert opened(str(tree / "data" / "sub") + "/file.txt\x00.png", [str(tree / "data")]) is None


# --- end to end, loopback only ----------------------------------------------------------------------------


class _Origin(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        redirects = getattr(self.server, "redirects", {})
        if self.path in redirects:
            self.send_response(302)
            self.send_header("Location", redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6


def serve(host: str, body: bytes):
    """A recording HTTP server on ``host`` (a loopback address); returns (server, base URL)."""
    server = (_Server6 if ":" in host else http.server.ThreadingHTTPServer)((host, 0), _Origin)
    server.hits, server.body, server.redirects = [], body, {}
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    return server, f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@pytest.fixture(scope="module")
def loopback_origins():
    """Origins on 127.0.0.1 and ::1: the internal services a reference must not reach by default."""
    started = [serve("127.0.0.1", b"internal internal secret")]
    try:
        started.append(serve("::1", b"internal internal secret"))
    except OSError:  # no IPv6 loopback here
        pass
    yield started
    for server, _ in started:
        server.shutdown()
        server.server_close()


def by_reference(href: str, **attributes: str) -> str:
    extra = "".join(f"@{k}={quote(v, safe='')}" for k, v in attributes.items())
    return f"text=@xlink:href={quote(href, safe='')}{extra}"


def counts(response) -> list:
    assert response.status_code == 200, response.text[:2000]
    return json.loads(response.content)


def denied(response, needle: str | None = "not allowed") -> str:
    assert "Traceback" not in response.text
    assert response.status_code == 400, (response.status_code, response.text[:1000])
    assert_valid(response.content)
    code, locator, text = exception_of(response)
    assert (code, locator) == ("InvalidParameterValue", "text"), response.text[:1000]
    if needle:
        assert needle in text, text
    for leak in ("secret", "nologin", "root:"):
        assert leak not in response.text
    return text


def spool_entries(gateway) -> set[str]:
    return set(os.listdir(os.path.join(gateway.workdir, "spool")))


def test_loopback_references_are_denied_by_default_and_nothing_is_fetched(gateway, loopback_origins):
    port = loopback_origins[0][0].server_address[1]
    hrefs = [base + "/words.txt" for _, base in loopback_origins]
    # other spellings of 127.0.0.1, parsed by the system resolver without any DNS query
    hrefs += [f"http://127.1:{port}/words.txt", f"http://2130706433:{port}/words.txt",
              f"http://[::ffff:127.0.0.1]:{port}/words.txt"]
    for href in hrefs:
        denied(gateway.execute("wordcounter", by_reference(href), RawDataOutput="output"))
    assert all(server.hits == [] for server, _ in loopback_origins)


def test_a_denied_reference_leaves_no_job_folder_behind(gateway, loopback_origins):
    """A refused Execute is not a job: the folder the stager made for the download must go again."""
    before = spool_entries(gateway)
    for _ in range(3):
        denied(gateway.execute("wordcounter", by_reference(loopback_origins[0][1] + "/words.txt")))
    assert spool_entries(gateway) - before == set()


@pytest.fixture(scope="module")
def allow_127_0_0_2(tmp_path_factory, loopback_origins):
    """A gateway that allows 127.0.0.2/32, an origin on 127.0.0.2, and its redirects to elsewhere."""
    try:
        origin, base = serve("127.0.0.2", b"alpha beta beta")
    except OSError as exc:
        pytest.skip(f"cannot bind 127.0.0.2: {exc}")
    inner_server, inner = loopback_origins[0]
    inner_port = inner_server.server_address[1]
    origin.redirects = {
        "/to-self": "/words.txt",
        "/to-127.0.0.1": inner + "/words.txt",
        "/to-127.0.0.1-decimal": f"http://2130706433:{inner_port}/words.txt",
        "/to-file": "file:///etc/passwd",
        "/to-gopher": f"gopher://127.0.0.1:{inner_port}/",
    }
    if len(loopback_origins) > 1:
        origin.redirects["/to-ipv6-loopback"] = loopback_origins[1][1] + "/words.txt"
    gateway = GatewayProcess(str(tmp_path_factory.mktemp("allow127002")),
                             {"server": {"allowednetworks": ["127.0.0.2/32"]}}).start()
    yield gateway, origin, base
    gateway.stop()
    origin.shutdown()
    origin.server_close()


def test_allowed_network_is_reachable_directly_and_by_redirect_within_it(allow_127_0_0_2):
    gateway, origin, base = allow_127_0_0_2
    for path in ("/words.txt", "/to-self"):
        response = gateway.execute("wordcounter", by_reference(base + path), RawDataOutput="output")
        assert counts(response) == [[2, "beta"], [1, "alpha"]]


@pytest.mark.parametrize("path", ["/to-127.0.0.1", "/to-127.0.0.1-decimal", "/to-ipv6-loopback"])
def test_redirect_out_of_the_allowed_network_is_denied(allow_127_0_0_2, loopback_origins, path):
    gateway, origin, base = allow_127_0_0_2
    if path not in origin.redirects:
        pytest.skip("no IPv6 loopback")
    for server, _ in loopback_origins:
        server.hits.clear()
    origin.hits.clear()
    denied(gateway.execute("wordcounter", by_reference(base + path), RawDataOutput="output"))
    assert origin.hits == [path]  # the first hop was made ...
    assert all(server.hits == [] for server, _ in loopback_origins)  # ... the redirect was not followed


@pytest.mark.parametrize("path", ["/to-file", "/to-gopher"])
def test_redirect_to_another_scheme_is_refused(allow_127_0_0_2, loopback_origins, path):
    gateway, origin, base = allow_127_0_0_2
    loopback_origins[0][0].hits.clear()
    denied(gateway.execute("wordcounter", by_reference(base + path), RawDataOutput="output"), needle=None)
    assert loopback_origins[0][0].hits == []


def test_allow_list_does_not_open_the_rest_of_loopback(allow_127_0_0_2, loopback_origins):
    gateway, _, _ = allow_127_0_0_2
    loopback_origins[0][0].hits.clear()
    denied(gateway.execute("wordcounter", by_reference(loopback_origins[0][1] + "/words.txt")))
    assert loopback_origins[0][0].hits == []


# --- the gateway's own outputs ----------------------------------------------------------------------------


def own_output(gateway, name: str = "chained words") -> tuple[str, str]:
    """A synchronous hello with its output by reference: (href, uuid)."""
    document = etree.fromstring(gateway.execute("hello", f"name={name}",
                                                ResponseDocument="output@asReference=true").content)
    href = document.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    assert href.startswith(gateway.base + "/outputs/"), href
    return href, href[len(gateway.base + "/outputs/"):].split("/", 1)[0]


def test_own_output_by_xml_reference_feeds_the_next_job_under_the_default_policy(gateway):
    href, _ = own_output(gateway, "xml chained chained")
    body = f"""<?xml version="1.0"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
  xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
 <ows:Identifier>wordcounter</ows:Identifier>
 <wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier>
  <wps:Reference xlink:href="{href}" mimeType="text/plain"/></wps:Input></wps:DataInputs>
 <wps:ResponseForm><wps:RawDataOutput><ows:Identifier>output</ows:Identifier></wps:RawDataOutput></wps:ResponseForm>
</wps:Execute>"""
    response = gateway.post(body)
    assert counts(response) == [[2, "chained"], [1, "xml"], [1, "Hello"]]  # case kept, as Emu


def test_own_output_of_an_async_job_feeds_the_next_job(gateway):
    accepted = etree.fromstring(gateway.execute("hello", "name=async chained", storeExecuteResponse="true",
                                                ResponseDocument="output@asReference=true").content)
    final = gateway.wait_final(accepted.get("statusLocation"), timeout=30)
    href = final.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS).get("href")
    response = gateway.execute("wordcounter", by_reference(href, mimeType="text/plain"), RawDataOutput="output")
    assert counts(response) == [[1, "chained"], [1, "async"], [1, "Hello"]]


@pytest.mark.parametrize("suffix", [
    "{u}/../status.xml", "{u}/..%2fstatus.xml", "{u}/%2e%2e%2f%2e%2e%2fjob.key", "..%2f..%2fjob.key/x",
    "{u}/.tmp-x", "{u}/output.txt%00", "{u}/", "{u}", "00000000-0000-0000-0000-000000000000/output.txt",
    "{u}/output.txt/..", "{u}/%2fetc%2fpasswd",
], ids=["dotdot", "encoded-dotdot", "encoded-dotdot-key", "uuid-dotdot", "hidden", "nul", "folder", "no-name",
        "unknown-job", "trailing-dotdot", "absolute"])
def test_own_output_references_cannot_escape_the_outputs_folder(gateway, suffix):
    href, uuid = own_output(gateway)
    base = gateway.base + "/outputs/"
    response = gateway.execute("wordcounter", by_reference(base + suffix.format(u=uuid), mimeType="text/plain"),
                               RawDataOutput="output")
    denied(response, needle=None)
    assert "WPSGATE" not in response.text and "ExecuteResponse" not in response.text


def test_own_output_reference_to_a_planted_symlink_is_refused(gateway):
    """A symlink in a job's outputs folder pointing outside must not be read as the next job's input."""
    href, uuid = own_output(gateway)
    outputs = os.path.join(gateway.workdir, "spool", uuid, "outputs")
    os.symlink("/etc/passwd", os.path.join(outputs, "planted.txt"))
    response = gateway.execute("wordcounter", by_reference(href.rsplit("/", 1)[0] + "/planted.txt",
                                                           mimeType="text/plain"), RawDataOutput="output")
    assert "nologin" not in response.text and "root" not in response.text
    denied(response, needle=None)
