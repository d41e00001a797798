"""Credentials in input references are sent with the download and kept nowhere else.

A client gives a reference an ``Authorization`` header (and a POST body that may carry
a secret too).  The gateway must send them to the referenced server, and then they
must be absent from everything it keeps or shows: the accepted and final status
documents (lineage shows the header's key with the value ``***``), the signed job
file, result.json, every other file of the job folder, the job table (read from the
SQLite file directly, the pickled context included), the gateway's log and the JSON
status API.  Loopback only: one origin server on 127.0.0.1 and one gateway.
"""
from __future__ import annotations

import http.server
import json
import os
import sqlite3
import stat

import pytest
from lxml import etree

from .gateway import NS, GatewayProcess, exception_of, uuid_of
from .loopback import loopback_server
from .schemas import assert_valid

TOKEN = "Bearer s3cr3t-T0KEN-4f1c9a"
BODY_SECRET = "password=b0dy-S3CRET-77aa"


class _Origin(http.server.BaseHTTPRequestHandler):
    """Serves words only to a request that carries the token; records what it was sent."""

    seen: list[tuple[str, str, bytes]] = []
    api_keys: list[str] = []

    def _answer(self, body: bytes) -> None:
        if self.headers.get("Authorization") != TOKEN:
            self.send_error(401)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.seen.append(("GET", self.headers.get("Authorization", ""), b""))
        self.api_keys.append(self.headers.get("X-Api-Key", ""))
        if self.path.startswith("/moved?to="):  # a redirect to wherever the query names
            self.send_response(302)
            self.send_header("Location", self.path[len("/moved?to="):])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._answer(b"guarded words guarded")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(("POST", self.headers.get("Authorization", ""), body))
        self._answer(b"posted words" if BODY_SECRET.encode() in body else b"wrong body")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    with loopback_server(_Origin) as server:
        yield server.url


@pytest.fixture(scope="module")
def elsewhere():
    """A second loopback origin (another port: another origin) that records the headers it gets."""
    with loopback_server(_Origin) as server:
        yield server.url


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("secrets"))
    process = GatewayProcess(workdir, {"server": {"allowednetworks": ["127.0.0.0/8"]},
                                       "logging": {"level": "DEBUG"}}).start()
    process.spool = os.path.join(workdir, "spool")
    yield process
    process.stop()


def execute_xml(origin: str, *, store: bool, method: str = "GET", header_value: str = TOKEN,
                path: str = "/words.txt", api_key: str = "") -> str:
    body = f"<wps:Body>{BODY_SECRET}</wps:Body>" if method == "POST" else ""
    extra = f'<wps:Header key="X-Api-Key" value="{api_key}"/>' if api_key else ""
    form = (f'<wps:ResponseDocument storeExecuteResponse="{str(store).lower()}" status="{str(store).lower()}" '
            'lineage="true"><wps:Output asReference="false"><ows:Identifier>output</ows:Identifier></wps:Output>'
            '</wps:ResponseDocument>')
    return f"""<?xml version="1.0"?>
<wps:Execute service="WPS" version="1.0.0" xmlns:wps="http://www.opengis.net/wps/1.0.0"
  xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink">
 <ows:Identifier>wordcounter</ows:Identifier>
 <wps:DataInputs><wps:Input><ows:Identifier>text</ows:Identifier>
  <wps:Reference xlink:href="{origin}{path}" method="{method}" mimeType="text/plain">
   <wps:Header key="Authorization" value="{header_value}"/>{extra}{body}</wps:Reference>
 </wps:Input></wps:DataInputs>
 <wps:ResponseForm>{form}</wps:ResponseForm>
</wps:Execute>"""


def lineage_headers(document: etree._Element) -> list[tuple[str, str]]:
    path = "wps:DataInputs/wps:Input/wps:Reference/wps:Header"
    return [(h.get("key"), h.get("value")) for h in document.iterfind(path, NS)]


def leaks(gateway: GatewayProcess, uuid: str, responses: list[bytes]) -> list[str]:
    """Every place that holds the token or the body secret, as readable lines."""
    secrets = (TOKEN.split()[1].encode(), BODY_SECRET.encode())
    places: dict[str, bytes] = {f"response {i}": body for i, body in enumerate(responses)}
    folder = os.path.join(gateway.spool, uuid)
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                places[os.path.relpath(os.path.join(root, name), folder)] = handle.read()
    for name in os.listdir(gateway.workdir):  # the SQLite file and its WAL, byte for byte
        if name.startswith("jobs.sqlite"):
            with open(os.path.join(gateway.workdir, name), "rb") as handle:
                places[name] = handle.read()
    with sqlite3.connect(os.path.join(gateway.workdir, "jobs.sqlite")) as db:  # and row by row
        places["job row"] = repr(db.execute("SELECT * FROM jobs WHERE uuid = ?", (uuid,)).fetchall()).encode()
    places["gateway log"] = open(gateway.log_path, "rb").read()
    places["status JSON"] = gateway.session.get(f"{gateway.base}/status/{uuid}", timeout=10).content
    places["status list"] = gateway.session.get(f"{gateway.base}/status/?limit=1000", timeout=10).content
    return [f"{where} holds {secret.decode()}" for where, data in places.items() for secret in secrets
            if secret in data]


def test_async_job_sends_the_header_and_keeps_it_nowhere(gateway, origin):
    _Origin.seen.clear()
    accepted = gateway.post(execute_xml(origin, store=True))
    assert accepted.status_code == 200, accepted.text
    location = etree.fromstring(accepted.content).get("statusLocation")
    final = gateway.wait_final(location)
    assert json.loads(final.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:ComplexData", namespaces=NS)) \
        == [[2, "guarded"], [1, "words"]]
    assert _Origin.seen == [("GET", TOKEN, b"")]  # the header did reach the referenced server
    assert_valid(etree.tostring(final))
    assert lineage_headers(final) == [("Authorization", "***")]
    assert lineage_headers(etree.fromstring(accepted.content)) == [("Authorization", "***")]
    uuid = uuid_of(location)
    folder = os.path.join(gateway.spool, uuid)
    for name in ("job.dill", "status.xml", "result.json"):
        assert os.path.exists(os.path.join(folder, name)), os.listdir(folder)
    assert leaks(gateway, uuid, [accepted.content, etree.tostring(final)]) == []


def test_staged_input_files_are_not_world_readable(gateway, origin):
    accepted = gateway.post(execute_xml(origin, store=True))
    location = etree.fromstring(accepted.content).get("statusLocation")
    gateway.wait_final(location)
    inputs = os.path.join(gateway.spool, uuid_of(location), "inputs")
    staged = os.listdir(inputs)
    assert staged, "the reference was not staged into inputs/"
    for name in staged:
        mode = stat.S_IMODE(os.lstat(os.path.join(inputs, name)).st_mode)
        assert mode & 0o007 == 0, f"{name}: {mode:04o}"
    assert stat.S_IMODE(os.lstat(inputs).st_mode) & 0o007 == 0


def test_post_body_and_header_are_sent_and_kept_nowhere(gateway, origin):
    _Origin.seen.clear()
    accepted = gateway.post(execute_xml(origin, store=True, method="POST"))
    location = etree.fromstring(accepted.content).get("statusLocation")
    final = gateway.wait_final(location)
    assert json.loads(final.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:ComplexData", namespaces=NS)) \
        == [[1, "words"], [1, "posted"]]
    assert _Origin.seen == [("POST", TOKEN, BODY_SECRET.encode())]
    assert leaks(gateway, uuid_of(location), [accepted.content, etree.tostring(final)]) == []


def test_sync_lineage_masks_the_header(gateway, origin):
    response = gateway.post(execute_xml(origin, store=False))
    assert response.status_code == 200, response.text
    document = assert_valid(response.content)
    assert lineage_headers(document) == [("Authorization", "***")]
    assert TOKEN.encode() not in response.content


def test_failed_download_does_not_tell_the_header(gateway, origin):
    """A wrong token: the origin answers 401; neither the answer nor the log carries the value sent."""
    wrong = "Bearer wr0ng-T0KEN-d00d"
    response = gateway.post(execute_xml(origin, store=False, header_value=wrong))
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "401" in text
    assert b"wr0ng-T0KEN" not in response.content
    assert b"wr0ng-T0KEN" not in open(gateway.log_path, "rb").read()


def test_header_value_with_a_line_break_is_refused_without_echo(gateway, origin):
    response = gateway.post(execute_xml(origin, store=False, header_value="Bearer x&#13;&#10;X-Injected: l1nebreak"))
    code, locator, text = exception_of(response)
    assert (response.status_code, code, locator) == (400, "InvalidParameterValue", "text")
    assert "Authorization" in text and "l1nebreak" not in text


def test_redirect_to_another_origin_does_not_carry_the_header(gateway, origin, elsewhere):
    """Same origin: the headers follow the redirect; another origin: none of them is sent there, not even
    ones the HTTP client does not know to be credentials (the download then fails with that origin's 401)."""
    _Origin.seen.clear()
    _Origin.api_keys.clear()
    same = gateway.post(execute_xml(origin, store=False, path="/moved?to=/words.txt", api_key="k3y-1"))
    assert same.status_code == 200, same.text
    assert _Origin.seen == [("GET", TOKEN, b""), ("GET", TOKEN, b"")]
    assert _Origin.api_keys == ["k3y-1", "k3y-1"]
    _Origin.seen.clear()
    _Origin.api_keys.clear()
    other = gateway.post(execute_xml(origin, store=False, path=f"/moved?to={elsewhere}/words.txt", api_key="k3y-2"))
    assert _Origin.seen == [("GET", TOKEN, b""), ("GET", "", b"")]
    assert _Origin.api_keys == ["k3y-2", ""]
    code, _, text = exception_of(other)
    assert (other.status_code, code) == (400, "InvalidParameterValue") and "401" in text


def test_scheduler_job_file_keeps_no_header_and_the_node_reads_the_staged_copy(fresh_gateway, origin):
    """On Slurm the job file is dill and is read on the node: no token in it, and the job counts the
    words the gateway downloaded (the node needs neither the header nor the network)."""
    from .schedulers import require

    require("slurm")
    gateway = fresh_gateway({"server": {"allowednetworks": ["127.0.0.0/8"]},
                             "processing": {"mode": "slurm", "parallelprocesses": 1},
                             "scheduler": {"poll_interval": 0.5, "nfs_grace": 2.0}})
    gateway.spool = os.path.join(gateway.workdir, "spool")
    accepted = gateway.post(execute_xml(origin, store=True))
    assert accepted.status_code == 200, accepted.text
    location = etree.fromstring(accepted.content).get("statusLocation")
    final = gateway.wait_final(location, timeout=90)
    assert json.loads(final.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:ComplexData", namespaces=NS)) \
        == [[2, "guarded"], [1, "words"]]
    assert lineage_headers(final) == [("Authorization", "***")]
    assert leaks(gateway, uuid_of(location), [accepted.content, etree.tostring(final)]) == []
