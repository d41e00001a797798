"""Token mode on a real gateway: ``Authorization: Bearer <token>``, tokens made and revoked with
``wpsgate token``, capabilities not public (so nothing at all is answered without a token)."""
from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests
from owslib.wps import ASYNC, WebProcessingService, monitorExecution

from .gateway import GatewayProcess, exception_of, wait_for
from .users_helpers import assert_hidden_from, assert_visible_to, async_job, output_href, wait_succeeded

CHALLENGE = 'Bearer realm="wpsgate"'


def token_command(gateway: GatewayProcess, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wpsgate", "token", "--config", gateway.config_path, *args],
                          capture_output=True, text=True, timeout=60)


def new_token(gateway: GatewayProcess, user: str) -> str:
    made = token_command(gateway, "add", user, "--note", f"{user}'s test token")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    process = GatewayProcess(str(tmp_path_factory.mktemp("users-token")), {"auth": {
        "mode": "token", "admins": ["root"], "public_capabilities": False, "token_cache_seconds": 1}})
    # tokens are made before the gateway starts (the command creates the table) and while it runs
    process.tokens = {user: new_token(process, user) for user in ("root", "alice", "bob")}
    process.session.headers.update(bearer(process.tokens["root"]))  # its start polls GetCapabilities
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def alices_job(gateway):
    alice = bearer(gateway.tokens["alice"])
    location, uuid = async_job(gateway, alice)
    return location, uuid, output_href(wait_succeeded(gateway, location, alice))


def test_anonymous_gets_401_everywhere_but_health_when_capabilities_are_not_public(gateway):
    with_token = requests.get(gateway.wps, params={"service": "WPS", "request": "GetCapabilities"},
                              headers=bearer(gateway.tokens["alice"]), timeout=30)
    assert with_token.status_code == 200
    for url, params in ((gateway.wps, {"service": "WPS", "request": "GetCapabilities"}),  # remembered, not served
                        (gateway.wps, {"service": "WPS", "request": "DescribeProcess", "version": "1.0.0",
                                       "identifier": "hello"}),
                        (gateway.base + "/processes", {}), (gateway.base + "/processes/hello", {}),
                        (gateway.base + "/status/", {}), (gateway.base + "/jobs", {})):
        response = requests.get(url, params=params, timeout=30)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == CHALLENGE, url
    assert exception_of(requests.get(gateway.wps, params={"service": "WPS", "request": "GetCapabilities"},
                                     timeout=30))[:2] == ("NoApplicableCode", "Authorization")
    assert requests.get(gateway.base + "/health/live", timeout=30).status_code == 200


def test_another_user_cannot_see_read_or_dismiss_a_job_through_any_route(gateway, alices_job):
    _, uuid, href = alices_job
    assert_hidden_from(gateway, uuid, href.rsplit("/", 1)[1], bearer(gateway.tokens["bob"]))
    assert_visible_to(gateway, uuid, href, bearer(gateway.tokens["alice"]))
    record = assert_visible_to(gateway, uuid, href, bearer(gateway.tokens["root"]))
    assert record["owner"] == "alice"


def test_the_proxy_header_is_ignored_from_a_peer_that_is_not_a_trusted_proxy(gateway, alices_job):
    location, uuid, _ = alices_job
    for url in (location, f"{gateway.base}/status/{uuid}", f"{gateway.base}/status/"):
        assert requests.get(url, headers={"X-Remote-User": "alice"}, timeout=30).status_code == 401


def test_the_token_command_lists_and_revokes_and_a_revoked_token_is_refused(gateway):
    carol = new_token(gateway, "carol")
    assert requests.get(gateway.base + "/status/", headers=bearer(carol), timeout=30).status_code == 200
    listing = token_command(gateway, "list")
    assert listing.returncode == 0
    token_id = carol.split("_")[1]
    line = next(line for line in listing.stdout.splitlines() if line.startswith(token_id))
    assert "carol" in line and "active" in line and "carol's test token" in line
    # the secret is nowhere but with the client: not listed, not in the database
    secret = carol.rsplit("_", 1)[1]
    assert secret not in listing.stdout
    assert secret.encode() not in open(gateway.workdir + "/jobs.sqlite", "rb").read()
    revoked = token_command(gateway, "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in token_command(gateway, "list", "--user", "carol").stdout
    # within auth.token_cache_seconds (1 here) the revoked token stops working
    wait_for(lambda: requests.get(gateway.base + "/status/", headers=bearer(carol), timeout=30).status_code == 401,
             10, "the revoked token still works")
    refused = requests.get(gateway.base + "/status/", headers=bearer(carol), timeout=30)
    assert refused.headers["WWW-Authenticate"] == CHALLENGE + ', error="invalid_token"'
    assert token_command(gateway, "revoke", token_id).returncode == 1  # not twice
    assert token_command(gateway, "add", "not a name").returncode == 2


@pytest.mark.parametrize("value", [
    "Bearer " + "x" * 8000,  # overlong
    "Bearer wpsg_0123456789abcdef_" + "A" * 43,  # well-formed, unknown
    "Basic YWxpY2U6c2VjcmV0",
    "Bearer",
    "bearer  wpsg_%s_" + "B" * 43,  # alice's id, another secret
    "Bearer wpsg_%s_" + "B" * 42 + "!",
])
def test_wrong_or_garbage_tokens_are_refused(gateway, alices_job, value):
    _, uuid, _ = alices_job
    if "%s" in value:
        value = value % gateway.tokens["alice"].split("_")[1]
    response = requests.get(f"{gateway.base}/status/{uuid}", headers={"Authorization": value}, timeout=30)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith(CHALLENGE + ", error=")


def test_a_non_ascii_authorization_header_is_refused(gateway, alices_job):
    _, uuid, _ = alices_job
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=10) as sock:
        sock.sendall(f"GET /status/{uuid} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
                     + "Authorization: Bearer wpsg_ü\r\n\r\n".encode("utf-8"))
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_owslib_authenticates_with_a_token(gateway):
    wps = WebProcessingService(gateway.wps, headers=bearer(gateway.tokens["alice"]), timeout=60)
    assert "hello" in [process.identifier for process in wps.processes]
    execution = wps.execute("hello", [("name", "token")], output=[("output", False)], mode=ASYNC)
    monitorExecution(execution, sleepSecs=0.1)  # polls the status URL with the same headers
    assert execution.isSucceded(), execution.errors
    uuid = execution.statusLocation.rsplit("/", 1)[1][:-4]
    owner = requests.get(f"{gateway.base}/status/{uuid}", headers=bearer(gateway.tokens["root"]), timeout=30)
    assert owner.json()["owner"] == "alice"
    with pytest.raises(Exception):
        WebProcessingService(gateway.wps, timeout=60)  # without the token: 401 on GetCapabilities
