"""Header mode on a real gateway: the user is whom a trusted front end names in X-Remote-User.

The gateway trusts only 127.0.0.1/32: the same test is a trusted proxy when it connects from
127.0.0.1, and an ordinary client when it connects from 127.0.0.2 (also loopback)."""
from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import urlsplit

import pytest
import requests
from lxml import etree

from .test_http_errors import execute_xml, literal
from .gateway import GatewayProcess, exception_of, uuid_of, wait_for
from .users_helpers import (assert_hidden_from, assert_visible_to, async_job, output_href, wait_succeeded)

ALICE = {"X-Remote-User": "alice"}
BOB = {"X-Remote-User": "bob"}
ROOT = {"X-Remote-User": "root"}
AUTH = {"mode": "header", "trusted_proxies": ["127.0.0.1/32"], "admins": ["root"]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = GatewayProcess(str(tmp_path_factory.mktemp("users-header")),
                             {"auth": AUTH,
                              "processing": {"cleanup_interval": 1.0}}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def alices_job(gateway):
    location, uuid = async_job(gateway, ALICE)
    final = wait_succeeded(gateway, location, ALICE)
    return location, uuid, output_href(final)


def untrusted_get(url: str, headers: dict[str, str]) -> int:
    """GET ``url`` from 127.0.0.2, an address that is not a trusted proxy; returns the status."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=("127.0.0.2", 0))
    try:
        connection.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_anonymous_requests_to_job_routes_get_401_with_a_challenge(gateway, alices_job):
    _, uuid, href = alices_job
    base = gateway.base
    execute = {"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello",
               "DataInputs": "name=x"}
    for method, url, kwargs in [
            ("GET", gateway.wps, {"params": execute}),
            ("POST", gateway.wps, {"data": execute_xml("hello", literal("name", "x")),
                                   "headers": {"Content-Type": "text/xml"}}),
            ("GET", f"{base}/status/{uuid}.xml", {}), ("GET", href, {}), ("HEAD", href, {}),
            ("GET", f"{base}/status/", {}), ("GET", f"{base}/status/{uuid}", {}),
            ("DELETE", f"{base}/status/{uuid}", {}),
            ("GET", f"{base}/jobs", {}), ("GET", f"{base}/jobs/{uuid}", {}), ("GET", f"{base}/jobs/{uuid}/results", {}),
            ("DELETE", f"{base}/jobs/{uuid}", {}),
            ("POST", f"{base}/processes/hello/execution", {"json": {"inputs": {"name": "x"}}})]:
        response = requests.request(method, url, timeout=30, **kwargs)
        assert response.status_code == 401, (method, url, response.status_code, response.text[:300])
        assert response.headers["WWW-Authenticate"] == 'X-Remote-User realm="wpsgate"', (method, url)
        if url == gateway.wps:  # WPS: an OWS ExceptionReport naming the header
            assert exception_of(response)[:2] == ("NoApplicableCode", "X-Remote-User")
        elif url.startswith(f"{base}/jobs") or "/processes/" in url:  # OGC API: RFC 7807
            assert response.json()["status"] == 401 and response.json()["locator"] == "X-Remote-User"
    # nothing was run or dismissed by any of them
    assert requests.get(f"{base}/status/{uuid}", headers=ALICE, timeout=30).json()["status"] == "succeeded"


def test_capabilities_process_lists_and_health_stay_public(gateway):
    for _ in range(2):  # the second answer comes from memory at the connection
        assert gateway.get(service="WPS", request="GetCapabilities").status_code == 200
    assert gateway.get(service="WPS", request="DescribeProcess", version="1.0.0",
                       identifier="hello").status_code == 200
    for path in ("/processes", "/processes/hello", "/health/live", "/", "/conformance"):
        assert requests.get(gateway.base + path, timeout=30).status_code == 200, path


def test_another_user_cannot_see_read_or_dismiss_a_job_through_any_route(gateway, alices_job):
    location, uuid, href = alices_job
    assert_hidden_from(gateway, uuid, href.rsplit("/", 1)[1], BOB)
    record = assert_visible_to(gateway, uuid, href, ALICE)  # still there, and still alice's
    assert record["status"] == "succeeded" and "owner" not in record  # the owner is for admins


def test_an_admin_sees_every_job_with_its_owner_and_filters_by_user(gateway, alices_job):
    _, alices, href = alices_job
    _, bobs = async_job(gateway, BOB, "hello", "name=bob")
    listed = requests.get(f"{gateway.base}/status/", params={"limit": "1000"}, headers=ROOT, timeout=30).json()
    owners = {job["uuid"]: job["owner"] for job in listed["jobs"]}
    assert owners[alices] == "alice" and owners[bobs] == "bob"
    only_bob = requests.get(f"{gateway.base}/status/", params={"user": "bob"}, headers=ROOT, timeout=30).json()
    assert {job["owner"] for job in only_bob["jobs"]} == {"bob"}
    ogc = requests.get(f"{gateway.base}/jobs", params={"user": "alice", "limit": "1000"}, headers=ROOT, timeout=30)
    assert alices in ogc.text and bobs not in ogc.text
    assert_visible_to(gateway, alices, href, ROOT)
    # a user's own filter cannot widen their view
    mine = requests.get(f"{gateway.base}/status/", params={"user": "alice"}, headers=BOB, timeout=30).json()
    assert alices not in json.dumps(mine) and bobs in json.dumps(mine)
    # the admin may dismiss another's job
    dismissed = requests.delete(f"{gateway.base}/jobs/{bobs}", headers=ROOT, timeout=30)
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"


def test_a_client_that_is_not_a_trusted_proxy_cannot_assume_an_identity(gateway, alices_job):
    location, uuid, href = alices_job
    # over IPv4 (trusted) the status document is alice's, and is now answered from memory
    assert requests.get(location, headers=ALICE, timeout=30).status_code == 200
    execute = (f"{gateway.wps}?service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name%3Dx"
               "&storeExecuteResponse=true")
    for url in (location, href, f"{gateway.base}/status/{uuid}", f"{gateway.base}/status/",
                f"{gateway.base}/jobs/{uuid}", f"{gateway.base}/jobs", execute):
        assert untrusted_get(url, ALICE) == 401, url
        # a forwarded address naming a trusted proxy does not make the client one either
        assert untrusted_get(url, {**ALICE, "X-Forwarded-For": "127.0.0.1"}) == 401, url
    assert untrusted_get(gateway.wps + "?service=WPS&request=GetCapabilities", ALICE) == 200  # public: ignored


def _raw_get(gateway: GatewayProcess, path: str, header_lines: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header_lines
                     + b"\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize("lines", [
    b"X-Remote-User: alice\r\nX-Remote-User: alice\r\n",  # twice: "alice,alice"
    b"X-Remote-User: alice\r\n bob\r\n",  # a folded continuation line
    "X-Remote-User: jürgen\r\n".encode("utf-8"),  # not ASCII
    b"X-Remote-User: alice\x00\r\n",
    b"X-Remote-User: ../alice\r\n",
    b"X-Remote-User: " + b"a" * 200 + b"\r\n",
    b"X-Remote-User: \r\n",
])
def test_a_header_that_is_not_a_valid_user_name_is_refused(gateway, alices_job, lines):
    _, uuid, _ = alices_job
    answer = _raw_get(gateway, f"/status/{uuid}", lines)
    status = int(answer.split(b" ", 2)[1]) if answer else 0
    assert status in (400, 401), answer[:300]  # the HTTP parser's 400, or 401: never alice's job
    assert b'"succeeded"' not in answer


def test_the_audit_log_names_user_client_process_and_outcome(gateway):
    forwarded = {**ALICE, "X-Forwarded-For": "198.51.100.7, 203.0.113.9"}
    location, uuid = async_job(gateway, forwarded, "hello", "name=audit")
    wait_succeeded(gateway, location, ALICE)
    refused = requests.get(gateway.wps, headers=BOB, timeout=30, params={
        "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "no_such_process"})
    assert refused.status_code == 400
    requests.delete(f"{gateway.base}/status/{uuid}", headers=forwarded, timeout=30)
    wanted = [f'execute accepted: job={uuid} user="alice" client="203.0.113.9" process="hello"',
              f'job succeeded: job={uuid} user="alice" client="203.0.113.9" process="hello"',
              'execute refused: user="bob" client="127.0.0.1" process="no_such_process"',
              f'dismiss dismissed: job={uuid} user="alice" client="203.0.113.9" process="hello"']
    wait_for(lambda: all(line in gateway.log() for line in wanted), 10,
             f"audit lines missing from:\n{gateway.log(3000)}")
    assert "wpsgate.audit" in gateway.log()


def test_owners_survive_a_restart_and_expiry_removes_the_owners_results(fresh_gateway, tmp_path):
    config = {"auth": AUTH, "processing": {"cleanup_interval": 1.0}}
    first = fresh_gateway(config, workdir=str(tmp_path / "gw"))
    kept_location, kept = async_job(first, ALICE)
    final = wait_succeeded(first, kept_location, ALICE)
    href = output_href(final)
    _, expiring = async_job(first, ALICE, "hello", "name=short")
    _, interrupted = async_job(first, ALICE, "sleep", "delay=5")
    wait_for(lambda: requests.get(f"{first.base}/status/{interrupted}", headers=ALICE, timeout=30).json()["status"]
             == "started", 20, "the sleep job did not start")
    first.stop()
    again = fresh_gateway(config, workdir=str(tmp_path / "gw"), port=first.port)
    # the job that was running is recovered (and failed, as on the local pool) as alice's; its audit line,
    # written by a gateway that never saw it accepted, names her from the job table
    wait_for(lambda: f'job failed: job={interrupted} user="alice"' in again.log(), 20,
             f"no audit line for the recovered job:\n{again.log(3000)}")
    assert requests.get(f"{again.base}/status/{interrupted}", headers=BOB, timeout=30).status_code == 404
    # nothing is remembered in memory now: the owners come from the job table
    assert_hidden_from(again, kept, href.rsplit("/", 1)[1], BOB)
    assert_visible_to(again, kept, href, ALICE)
    response = requests.get(again.wps, headers=ALICE, timeout=30, params={
        "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "hello", "DataInputs": "name=e",
        "storeExecuteResponse": "true", "status": "true", "EXPIRE": "1"})
    location = etree.fromstring(response.content).get("statusLocation")
    short = uuid_of(location)
    wait_for(lambda: requests.get(f"{again.base}/status/{short}", headers=ALICE, timeout=30).json()["status"]
             == "expired", 20, "the job did not expire")
    assert requests.get(location, headers=ALICE, timeout=30).status_code == 404
    listed = requests.get(f"{again.base}/status/", params={"limit": "1000"}, headers=ROOT, timeout=30).json()
    owners = {job["uuid"]: job["owner"] for job in listed["jobs"]}
    assert owners[short] == "alice" and owners[kept] == "alice" and owners[expiring] == "alice"
