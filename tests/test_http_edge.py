"""The HTTP edge under attack: bodies where none belong, slow and oversized headers, script in outputs,
cross-site POSTs, CORS, and a port already in use.

Each attack runs against a real gateway on loopback (``edge``: this module's own, with a connection cap of 20,
a 2 s header timeout and one CORS origin; the shared ``gateway`` for the defaults) and is bounded in count,
bytes and time.  Requests whose exact bytes matter go over raw sockets.
"""
from __future__ import annotations

import http.client
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid as uuid_module

import pytest
import requests
from lxml import etree

from tests.edge_processes import ALL, PAGE
from tests.gateway import NS, GatewayProcess, exception_of, wait_for
from wpsgate.config import ConfigError, config_from_mapping
from wpsgate.server.active_content import is_active, output_headers
from wpsgate.server.connections import AcceptGuard
from wpsgate.server.log_limits import RepeatLimiter

CAP = 20
ORIGIN = "https://maps.example.org"
SECOND_ORIGIN = "https://atlas.example.org"
WPS_NS = ('xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
          'xmlns:xlink="http://www.w3.org/1999/xlink"')
ACTIVE = ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml"]
MB = 1024 * 1024


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    process = GatewayProcess(str(tmp_path_factory.mktemp("edge")), {
        "server": {"max_connections": CAP, "header_timeout": 2, "body_timeout": 5,
                   "cors_origins": [ORIGIN, SECOND_ORIGIN]},
        "processes": ALL}).start()
    yield process
    process.stop()


# --- plumbing ---------------------------------------------------------------------------------------------


def exchange(port: int, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` and read until the server closes (or resets) the connection; the body is never sent."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def split(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def rss_kib(process: subprocess.Popen) -> int:
    with open(f"/proc/{process.pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))


def execute_xml(identifier: str, inputs: str = "", form: str = "") -> str:
    data = f"<wps:DataInputs>{inputs}</wps:DataInputs>" if inputs else ""
    return (f'<wps:Execute service="WPS" version="1.0.0" {WPS_NS}><ows:Identifier>{identifier}</ows:Identifier>'
            f"{data}{form}</wps:Execute>")


def literal(identifier: str, value: str) -> str:
    return (f"<wps:Input><ows:Identifier>{identifier}</ows:Identifier><wps:Data><wps:LiteralData>{value}"
            "</wps:LiteralData></wps:Data></wps:Input>")


def post(gw: GatewayProcess, body: str, content_type: str | None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=30)
    try:
        connection.request("POST", "/wps", body=body.encode(),
                           headers={"Content-Type": content_type} if content_type is not None else {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def no_flood(gw: GatewayProcess) -> None:
    with open(gw.log_path, "rb") as handle:
        text = handle.read().decode(errors="replace")
    assert "Too many open files" not in text and "Traceback" not in text, text[-3000:]
    assert text.count("\n") < 400, f"{text.count(chr(10))} log lines:\n{text[-3000:]}"


# --- 3. bodies: only POST /wps takes one, and only up to maxrequestsize --------------------------------------

JOB = str(uuid_module.uuid4())
ROUTES = [("GET", "/", 413), ("GET", "/status/", 413), ("POST", "/status/", 405), ("GET", f"/status/{JOB}", 413),
          ("GET", f"/status/{JOB}.xml", 413), ("POST", f"/status/{JOB}.xml", 405),
          ("GET", f"/outputs/{JOB}/page.html", 413), ("GET", "/nowhere", 404),
          ("GET", "/wps?service=WPS&request=GetCapabilities", 413), ("PUT", "/wps", 405)]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("method,target,status", ROUTES, ids=[f"{m} {t.split('?')[0]}" for m, t, _ in ROUTES])
def test_a_body_where_none_belongs_is_refused_before_it_is_sent(edge, method, target, status, framing):
    """400 MB announced, not one byte of it sent: the refusal comes anyway, so nothing waited for the body."""
    framing_header = (b"Content-Length: 400000000\r\n" if framing == "content-length"
                      else b"Transfer-Encoding: chunked\r\n")
    answer = exchange(edge.port, f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode() + framing_header
                      + (b"\r\n" if framing == "content-length" else b"\r\n17D78400\r\n"))
    code, headers, body = split(answer)
    assert code == status, answer[:500]
    assert headers["x-content-type-options"] == "nosniff"
    if headers["content-type"].startswith("text/xml"):
        root = etree.fromstring(body)
        assert root.tag == "{http://www.opengis.net/ows/1.1}ExceptionReport"
    else:
        assert headers["content-type"].startswith("application/json") and b'"status": %d' % status in body


def test_parallel_large_bodies_do_not_grow_the_gateway(edge):
    """The review's attack: large bodies to /status/ in parallel.  Each sender pushes up to 64 MB until the gateway
    closes the connection; the gateway's memory stays where it was (it used to buffer every byte)."""
    before = rss_kib(edge.process)
    sent: list[int] = []

    def send_body(target: str) -> None:
        total = 0
        block = b"x" * MB
        try:
            with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {400 * MB}\r\n\r\n"
                             .encode())
                while total < 64 * MB:
                    sock.sendall(block)
                    total += len(block)
        except OSError:
            pass  # closed by the gateway: the point
        sent.append(total)

    threads = [threading.Thread(target=send_body, args=(target,)) for target in ("/status/", "/", "/nowhere")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(sent) == 3
    assert rss_kib(edge.process) - before < 32 * 1024, (before, rss_kib(edge.process), sent)
    assert requests.get(edge.base + "/status/", timeout=10).status_code == 200


def test_a_chunked_execute_over_maxrequestsize_is_refused_before_the_rest_is_sent(edge):
    """3 MB is the limit: the answer comes once it is passed, the other 97 MB announced are never read."""
    with socket.create_connection(("127.0.0.1", edge.port), timeout=10) as sock:
        sock.sendall(b"POST /wps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (100 * MB))
        try:
            sock.sendall(b"<" * (3 * MB + 64 * 1024))
        except OSError:
            pass
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    code, _, body = split(answer)
    assert code == 413 and b'locator="request"' in body, answer[:500]


# --- 4. slow and oversized headers ---------------------------------------------------------------------------


def test_slow_header_connections_cannot_crowd_out_a_request(edge):
    """Twice the connection cap held open with unfinished headers: a normal request is still answered, the slow
    ones are closed after the header timeout, and the log says so in a few lines, without a traceback."""
    slow = []
    for _ in range(2 * CAP):
        sock = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
        sock.sendall(b"GET /wps?service=WPS&request=GetCapabilities HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        slow.append(sock)
    try:
        response = requests.get(edge.wps, params={"service": "WPS", "request": "GetCapabilities"}, timeout=10)
        assert response.status_code == 200
        for sock in slow:  # each is closed: evicted for a newer one, or at the 2 s header timeout
            sock.settimeout(10)
            try:
                assert sock.recv(1024) == b""
            except ConnectionResetError:
                pass
    finally:
        for sock in slow:
            sock.close()
    no_flood(edge)


def test_when_every_connection_is_busy_a_new_one_gets_503_and_service_resumes(edge):
    """Connections in the middle of a request are not evicted; the one over the cap gets a bare 503 at once."""
    busy = []
    try:
        for _ in range(CAP):
            sock = socket.create_connection(("127.0.0.1", edge.port), timeout=10)
            sock.sendall(b"POST /wps HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n"
                         b"Content-Length: 1000\r\nExpect: 100-continue\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 100")  # the gateway has its headers: busy, not waiting
            sock.sendall(b"<wps:Execute")
            busy.append(sock)
        refusal = exchange(edge.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        if split(refusal)[0] != 503:  # the one idle connection left (the fixture's session) made room
            refusal = exchange(edge.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert refusal.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), refusal[:300]
    finally:
        for sock in busy:
            sock.close()
    wait_for(lambda: requests.get(edge.base + "/status/", timeout=10).status_code == 200, 10,
             "the gateway did not serve again once the busy connections were gone")
    no_flood(edge)


@pytest.mark.parametrize("size,answered", [(60 * 1024, True), (70 * 1024, False)])
def test_header_blocks_over_64_kib_are_refused(edge, size, answered):
    filler = b"X-Filler: " + b"v" * (size - 200) + b"\r\n"
    answer = exchange(edge.port, b"GET /wps?service=WPS&request=GetCapabilities HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Connection: close\r\n" + filler + b"\r\n")
    if answered:
        assert split(answer)[0] == 200
    else:
        assert answer == b"", answer[:300]  # closed unanswered: the block is never buffered past the limit
    assert requests.get(edge.base + "/status/", timeout=10).status_code == 200


def test_repeated_log_messages_are_counted_not_repeated():
    now = [0.0]
    limiter = RepeatLimiter(burst=5, interval=60, clock=lambda: now[0])

    def record(message: str, level: int = logging.ERROR) -> logging.LogRecord:
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            return logging.LogRecord("asyncio", level, __file__, 1, message, None, sys.exc_info())

    passed = [limiter.filter(record("Exception in callback accept")) for _ in range(1000)]
    assert sum(passed) == 5
    assert limiter.filter(record("another message"))  # other messages are not held back
    assert limiter.filter(logging.LogRecord("tornado.access", logging.INFO, __file__, 1, "200 GET", None, None))
    now[0] = 61.0
    after = record("Exception in callback accept")
    assert limiter.filter(after) and "995 more like this" in after.getMessage()


def test_out_of_file_descriptors_on_accept_closes_the_connection_instead_of_raising(tmp_path):
    """The listening socket's accept() failing with EMFILE, as in the review: one pending connection is closed, no
    exception reaches the event loop (which would log a traceback on every turn)."""
    import resource

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    guard = AcceptGuard(listener)
    client = socket.create_connection(listener.getsockname(), timeout=5)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    fillers = []
    try:
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
        try:
            while True:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        with pytest.raises(BlockingIOError):
            guard.accept()
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        assert client.recv(16) == b""
    except ConnectionResetError:
        pass
    assert guard.shed == 1 and guard.spare is not None
    client.close()
    guard.close()


# --- 7. outputs cannot script the gateway's origin --------------------------------------------------------------


def test_active_types():
    for mime in ACTIVE + ["application/gml+xml; subtype=gml/3.1.1", "Text/HTML; charset=utf-8",
                          "application/javascript", ""]:
        assert is_active(mime), mime
    for mime in ["text/plain", "application/json", "image/png", "text/csv", "application/x-netcdf"]:
        assert not is_active(mime), mime
    assert output_headers("text/html", "sandbox") == [("X-Content-Type-Options", "nosniff"),
                                                      ("Content-Security-Policy", "sandbox")]
    assert output_headers("text/html", "inline") == [("X-Content-Type-Options", "nosniff")]
    assert ('Content-Disposition', 'attachment; filename="a_b_.html"') in output_headers(
        "text/html", "attachment", 'a"b;.html', "inline")


def check_safe(headers: dict[str, str], active: bool) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    assert headers["x-content-type-options"] == "nosniff"
    if active:
        assert headers["content-security-policy"] == "sandbox"
        assert headers["content-disposition"].startswith("attachment")
    else:
        assert "content-security-policy" not in headers
        assert not headers.get("content-disposition", "").startswith("attachment")


@pytest.mark.parametrize("mime", ACTIVE + ["text/plain"])
def test_outputs_that_a_browser_would_run_are_sandboxed_downloads(edge, mime):
    raw = edge.execute("page", RawDataOutput=f"page@mimeType={mime}")
    assert raw.status_code == 200 and raw.content == PAGE.encode()
    check_safe(raw.headers, mime != "text/plain")
    document = etree.fromstring(edge.execute("page", ResponseDocument=f"page@asReference=true@mimeType={mime}")
                                .content)
    href = document.find(".//wps:Reference", NS).get("href")
    output = requests.get(href, timeout=10)
    assert output.status_code == 200 and output.content == PAGE.encode()
    assert output.headers["Content-Type"].startswith(mime)
    check_safe(output.headers, mime != "text/plain")


def test_status_documents_are_nosniff_and_sandboxed_from_file_and_from_memory(edge):
    accepted = etree.fromstring(edge.execute("page", storeExecuteResponse="true", status="true").content)
    location = accepted.get("statusLocation")
    edge.wait_final(location)
    for _ in range(2):  # the second poll comes from the in-memory copy
        poll = requests.get(location, timeout=10)
        assert poll.status_code == 200
        assert poll.headers["X-Content-Type-Options"] == "nosniff"
        assert poll.headers["Content-Security-Policy"] == "sandbox"


# --- 8. cross-site POSTs and CORS -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "text/plain; charset=utf-8",
                                          "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/json", None])
def test_an_execute_without_an_xml_content_type_is_refused_and_runs_nothing(edge, tmp_path, content_type):
    """What a page on another site can make a browser send without a preflight (and a body without a type)."""
    mark = tmp_path / "ran"
    status, headers, body = post(edge, execute_xml("mark", literal("path", str(mark))), content_type)
    assert status == 415 and headers["content-type"].startswith("text/xml")
    root = etree.fromstring(body)
    item = root.find("ows:Exception", NS)
    assert (item.get("exceptionCode"), item.get("locator")) == ("InvalidParameterValue", "Content-Type")
    assert not mark.exists()  # a synchronous Execute that ran would have finished before its answer


@pytest.mark.parametrize("content_type", ["text/xml", "application/xml; charset=UTF-8", "application/wps+xml",
                                          "TEXT/XML"])
def test_an_execute_with_an_xml_content_type_runs(edge, tmp_path, content_type):
    mark = tmp_path / "ran"
    status, _, body = post(edge, execute_xml("mark", literal("path", str(mark))), content_type)
    assert status == 200 and b"ProcessSucceeded" in body
    assert mark.read_text() == "ran\n"


def test_no_cors_by_default(gateway):
    for _ in range(2):  # the second answer comes from the answer cache
        response = requests.get(gateway.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                headers={"Origin": ORIGIN}, timeout=10)
        assert response.status_code == 200
        assert not [h for h in response.headers if h.lower().startswith("access-control-")]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    preflight = requests.options(gateway.wps, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                                                       "Access-Control-Request-Headers": "content-type"}, timeout=10)
    assert preflight.status_code == 405
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize("origin", [ORIGIN, SECOND_ORIGIN])
def test_cors_for_a_configured_origin(edge, origin):
    for _ in range(2):  # never from the answer cache without the CORS headers
        response = requests.get(edge.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                headers={"Origin": origin}, timeout=10)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == origin and response.headers["Vary"] == "Origin"
    preflight = requests.options(edge.wps, headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                                    "Access-Control-Request-Headers": "content-type"}, timeout=10)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "Content-Type"


def test_cors_refuses_other_origins(edge):
    response = requests.get(edge.wps, params={"service": "WPS", "request": "GetCapabilities"},
                            headers={"Origin": "https://evil.example"}, timeout=10)
    assert response.status_code == 200 and "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"
    cached = requests.get(edge.wps, params={"service": "WPS", "request": "GetCapabilities"}, timeout=10)
    assert cached.headers["Vary"] == "Origin" and "Access-Control-Allow-Origin" not in cached.headers
    preflight = requests.options(edge.wps, headers={"Origin": "https://evil.example",
                                                    "Access-Control-Request-Method": "POST"}, timeout=10)
    assert preflight.status_code == 405 and "Access-Control-Allow-Origin" not in preflight.headers
    code, _, _ = exception_of_status(requests.options(edge.wps, timeout=10))
    assert code == "OperationNotSupported"


def exception_of_status(response: requests.Response) -> tuple[str, str | None, str]:
    assert response.status_code == 405
    return exception_of(response)


# --- configuration and start-up -------------------------------------------------------------------------------


def test_edge_configuration_defaults_and_checks():
    server = config_from_mapping({}, environ={}).server
    assert (server.max_header_size, server.header_timeout, server.body_timeout, server.max_connections,
            server.active_outputs, server.cors_origins) == (64 * 1024, 20.0, 60.0, 0, "attachment", ())
    assert config_from_mapping({"server": {"max_header_size": "16kb", "cors_origins": "*"}},
                               environ={}).server.cors_origins == ("*",)
    for bad, key in [({"active_outputs": "render"}, "server.active_outputs"),
                     ({"cors_origins": ["https://a.example/path"]}, "server.cors_origins"),
                     ({"max_connections": -1}, "server.max_connections"),
                     ({"header_timeout": 0}, "server.header_timeout"), ({"max_header_size": 10}, "server.max_header_size")]:
        with pytest.raises(ConfigError, match=key):
            config_from_mapping({"server": bad}, environ={})


def test_a_port_in_use_is_named_with_its_address(edge, tmp_path):
    result = subprocess.run([sys.executable, "-m", "wpsgate", "serve", "--port", str(edge.port), "--workdir",
                             str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {edge.port}" in result.stderr and "--port" in result.stderr, \
        result.stderr
    assert "Traceback" not in result.stderr
