"""Per-user limits on a real gateway in header mode: A at a limit is refused, B is accepted.

The gateway runs behind a trusted front end that names the user in ``X-Remote-User`` (the
identity layer's header mode, configured as README "Authentication and users" says).  Alice at
her queued limit is refused with ServerBusy naming the limit, through WPS and the OGC API alike,
before any of her references is downloaded (a loopback origin counts requests), while Bob is
accepted; ``wpsgate usage`` then reports each user's jobs.  The same rules are proved without HTTP
in tests/test_user_limits.py (the service and engine, with the caller given).
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from lxml import etree

from .gateway import GatewayProcess, exception_of, uuid_of, wait_for
from .schedulers import REPO
from .test_references import by_reference
from .test_staging_admission import _Counting, origin, reset  # noqa: F401,F811 - the counting origin fixture

AUTH = {"mode": "header", "header": "X-Remote-User", "trusted_proxies": ["127.0.0.1/32"], "admins": ["operator"]}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    gateway = GatewayProcess(str(tmp_path_factory.mktemp("limits")), {
        "auth": AUTH, "server": {"allowednetworks": ["127.0.0.0/8"]},
        "processing": {"parallelprocesses": 1, "maxqueue": 50},
        "limits": {"default": {"queued": 1}, "users": {"carol": {"rate": 1, "burst": 1}}}}).start()
    gateway.session.headers["X-Remote-User"] = "operator"  # the harness's own reads (job, wait_final): an admin
    yield gateway
    gateway.stop()


def as_user(gateway, user, identifier, inputs="", **params):
    query = {"service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": identifier,
             "DataInputs": inputs, **params}
    return gateway.session.get(gateway.wps, params=query, headers={"X-Remote-User": user}, timeout=60)


def test_a_user_at_the_queued_limit_is_refused_before_any_download_while_another_is_accepted(gateway, origin):
    reset()
    running = as_user(gateway, "alice", "sleep", "delay=0.6", storeExecuteResponse="true", status="true")
    running_location = etree.fromstring(running.content).get("statusLocation")
    wait_for(lambda: gateway.job(uuid_of(running_location))["status"] == "started", 20, "alice's job did not start")
    queued = as_user(gateway, "alice", "sleep", "delay=0.05", storeExecuteResponse="true")
    assert queued.status_code == 200, queued.text
    reference = by_reference(origin + "/words.txt")
    refused = as_user(gateway, "alice", "wordcounter", reference, storeExecuteResponse="true")
    code, _, text = exception_of(refused)
    assert (refused.status_code, code) == (503, "ServerBusy"), refused.text
    assert "user alice has 1 queued jobs, the most allowed" in text
    ogc = gateway.session.post(f"{gateway.base}/processes/wordcounter/execution", headers={
        "X-Remote-User": "alice", "Content-Type": "application/json", "Prefer": "respond-async"},
        data=json.dumps({"inputs": {"text": {"href": origin + "/words.txt", "type": "text/plain"}}}), timeout=60)
    assert ogc.status_code == 503 and ogc.json()["type"].endswith("server-busy"), ogc.text
    assert "user alice has 1 queued jobs" in ogc.json()["detail"]
    assert _Counting.requests == 0  # nothing was fetched for alice
    accepted = as_user(gateway, "bob", "wordcounter", reference, storeExecuteResponse="true")
    assert accepted.status_code == 200, accepted.text
    assert _Counting.requests == 1
    assert 'limit refused: user="alice"' in gateway.log()  # the audit line
    for location in (running_location, etree.fromstring(queued.content).get("statusLocation"),
                     etree.fromstring(accepted.content).get("statusLocation")):
        gateway.wait_final(location, timeout=60)
    again = as_user(gateway, "alice", "wordcounter", reference, storeExecuteResponse="true")
    assert again.status_code == 200, again.text


def test_the_request_rate_is_per_user(gateway):
    first = as_user(gateway, "carol", "hello", "name=a")
    assert first.status_code == 200, first.text
    refused = as_user(gateway, "carol", "hello", "name=b")
    code, _, text = exception_of(refused)
    assert (refused.status_code, code) == (503, "ServerBusy") and "more than 1 Execute requests a minute" in text
    assert as_user(gateway, "dave", "hello", "name=c").status_code == 200


def test_usage_reports_each_users_jobs(gateway):
    result = subprocess.run([sys.executable, "-m", "wpsgate", "usage", "--config", gateway.config_path, "--json"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    users = {u["user"]: u for u in json.loads(result.stdout)["users"]}
    assert users["alice"]["outcomes"].get("succeeded", 0) >= 2 and users["bob"]["jobs"] >= 1
    assert users["carol"]["jobs"] == 1 and users["dave"]["jobs"] == 1
