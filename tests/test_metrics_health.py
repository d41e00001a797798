"""/metrics, /health/live and /health/ready on real gateways; the JSON log format.

Readiness is shown to follow the job store and the scheduler going away and coming back
without stopping the shared daemons: the store is a PostgreSQL database of the test's own
that stops accepting connections (ALTER DATABASE ... ALLOW_CONNECTIONS false, its
sessions terminated), the scheduler a ``sinfo`` on the gateway's PATH that fails while a
flag file exists (and runs the real one otherwise).
"""
import json
import os
import stat

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from .gateway import GatewayProcess, free_port, wait_for
from .schedulers import require
from .test_database_outage import ADMIN_URL, database  # noqa: F401 - the fixture: a database of the test's own


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """A local-mode gateway with JSON logs and an allowed input folder (file:// references)."""
    root = tmp_path_factory.mktemp("watched")
    data = root / "data"
    data.mkdir()
    (data / "words.txt").write_bytes(b"to be or not to be\n" * 100)
    gateway = GatewayProcess(str(root / "gw"), {"server": {"allowedinputpaths": [str(data)]},
                                                "logging": {"format": "json"}}).start()
    gateway.data = data
    yield gateway
    gateway.stop()


def scrape(base):
    """{(name, frozenset(labels)): value} of every sample of /metrics, parsed by the Prometheus text parser."""
    response = requests.get(base + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_http_answers_by_route_and_status_move(watched):
    before = scrape(watched.base)
    for _ in range(2):  # the second is answered from memory, below the request handlers: counted too
        assert watched.get(service="WPS", request="GetCapabilities").status_code == 200
    assert requests.get(watched.base + "/nothing/here", timeout=10).status_code == 404
    assert requests.get(watched.base + "/status/?limit=1", timeout=10).status_code == 200
    after = scrape(watched.base)
    assert sample(after, "wpsgate_http_responses_total", route="wps", method="GET", code="200") - \
        sample(before, "wpsgate_http_responses_total", route="wps", method="GET", code="200") == 2
    assert sample(after, "wpsgate_http_responses_total", route="not_found", method="GET", code="404") - \
        sample(before, "wpsgate_http_responses_total", route="not_found", method="GET", code="404") == 1
    assert sample(after, "wpsgate_http_responses_total", route="job_list", method="GET", code="200") - \
        sample(before, "wpsgate_http_responses_total", route="job_list", method="GET", code="200") == 1
    assert sample(after, "wpsgate_http_request_duration_seconds_count", route="wps") - \
        sample(before, "wpsgate_http_request_duration_seconds_count", route="wps") == 2
    # the path of a 404 never becomes a label value
    assert not any("/nothing" in value for _, labels in after for _, value in labels)
    assert sample(after, "wpsgate_build_info", version=__import__("wpsgate").__version__) == 1
    assert sample(after, "process_resident_memory_bytes") > 0


def test_execute_accept_and_sync_latency_by_process(watched):
    before = scrape(watched.base)
    accepted = watched.execute("sleep", "delay=0.01", storeExecuteResponse="true", status="true")
    assert b"ProcessAccepted" in accepted.content
    assert b"ProcessSucceeded" in watched.execute("hello", "name=metrics").content
    assert watched.execute("no_such_process").status_code == 400
    after = scrape(watched.base)
    assert sample(after, "wpsgate_execute_accept_seconds_count", process="sleep") - \
        sample(before, "wpsgate_execute_accept_seconds_count", process="sleep") == 1
    assert sample(after, "wpsgate_execute_sync_seconds_count", process="hello") - \
        sample(before, "wpsgate_execute_sync_seconds_count", process="hello") == 1
    # a client's identifier is a label value only when it names a configured process
    assert not any(("process", "no_such_process") in labels for _, labels in after)


def test_reference_bytes_and_failures(watched):
    before = scrape(watched.base)
    href = "file://" + str(watched.data / "words.txt")
    ok = watched.execute("wordcounter", f"text=@xlink:href={requests.utils.quote(href, safe='')}")
    assert b"ProcessSucceeded" in ok.content, ok.text
    refused = watched.execute("wordcounter", "text=@xlink:href=" + requests.utils.quote("file:///etc/passwd", safe=""))
    assert refused.status_code == 400
    after = scrape(watched.base)
    size = os.path.getsize(watched.data / "words.txt")
    assert sample(after, "wpsgate_reference_bytes_total", scheme="file") - \
        sample(before, "wpsgate_reference_bytes_total", scheme="file") == size
    assert sample(after, "wpsgate_reference_inputs_total", scheme="file") - \
        sample(before, "wpsgate_reference_inputs_total", scheme="file") == 1
    assert sample(after, "wpsgate_reference_failures_total", code="InvalidParameterValue") - \
        sample(before, "wpsgate_reference_failures_total", code="InvalidParameterValue") == 1


def test_health_answers_are_json_and_not_cached(watched):
    live = requests.get(watched.base + "/health/live", timeout=10)
    assert live.status_code == 200 and live.json() == {"status": "live"}
    ready = requests.get(watched.base + "/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "checks": {"store": {"ok": True, "detail": "ok"},
                                                          "spool": {"ok": True, "detail": "ok"}}}
    for response in (live, ready):
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert requests.head(watched.base + "/health/ready", timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/metrics", "/health/live", "/health/ready"])
def test_monitoring_routes_take_no_body_and_no_other_method(watched, path):
    body = requests.get(watched.base + path, data=b"x" * 100_000, timeout=10)
    assert body.status_code == 413
    chunked = requests.get(watched.base + path, data=iter([b"x" * 1000] * 10), timeout=10)
    assert chunked.status_code == 413
    for method in ("POST", "PUT", "DELETE"):
        response = requests.request(method, watched.base + path, data=b"{}", timeout=10)
        assert response.status_code == 405, (method, response.status_code)
    metrics = requests.get(watched.base + path, timeout=10)
    assert metrics.headers["X-Content-Type-Options"] == "nosniff"
    assert metrics.headers["Cache-Control"] == "no-store"


def test_json_log_lines(watched):
    watched.execute("sleep", "delay=0.01", storeExecuteResponse="true")
    with open(watched.log_path, encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in entries)
    assert any(entry["message"].startswith("wpsgate ") and "serving" in entry["message"] for entry in entries)


def test_metrics_on_a_listener_of_their_own(fresh_gateway):
    port = free_port()
    gateway = fresh_gateway({"metrics": {"port": port, "bind": "127.0.0.1"}})
    internal = f"http://127.0.0.1:{port}"
    assert ("wpsgate_build_info", frozenset({("version", __import__("wpsgate").__version__)})) in scrape(internal)
    assert requests.get(gateway.base + "/metrics", timeout=10).status_code == 404  # not on the public port
    assert requests.get(internal + "/health/ready", timeout=10).json()["status"] == "ready"
    assert requests.get(gateway.base + "/health/live", timeout=10).status_code == 200
    assert requests.get(internal + "/wps?service=WPS&request=GetCapabilities", timeout=10).status_code == 404


def test_metrics_can_be_turned_off(fresh_gateway):
    gateway = fresh_gateway({"metrics": {"enabled": False}})
    assert requests.get(gateway.base + "/metrics", timeout=10).status_code == 404
    assert requests.get(gateway.base + "/health/ready", timeout=10).status_code == 200


# --- readiness follows the store and the scheduler ------------------------------------------------------------


def readiness(gateway):
    response = requests.get(gateway.base + "/health/ready", timeout=30)
    return response.status_code, response.json()


def test_ready_follows_the_scheduler(fresh_gateway, tmp_path):
    require("slurm")
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    flag = tmp_path / "controller-down"
    sinfo = stubs / "sinfo"
    sinfo.write_text(f"#!/bin/sh\nif [ -e {flag} ]; then\n"
                     "  echo 'sinfo: error: Unable to contact slurm controller (connect failure)' >&2; exit 1\nfi\n"
                     "exec /usr/bin/sinfo \"$@\"\n")
    sinfo.chmod(sinfo.stat().st_mode | stat.S_IXUSR)
    gateway = fresh_gateway({"processing": {"mode": "slurm"}},
                            env={"PATH": f"{stubs}:{os.environ.get('PATH', '/usr/bin:/bin')}"})
    assert readiness(gateway) == (200, {"status": "ready", "checks": {
        "store": {"ok": True, "detail": "ok"}, "spool": {"ok": True, "detail": "ok"},
        "scheduler": {"ok": True, "detail": "ok"}}})
    flag.write_text("")
    status, body = wait_for(lambda: (r := readiness(gateway))[0] == 503 and r, 15, "never unready")
    assert body["status"] == "unready"
    assert body["checks"]["scheduler"] == {"ok": False, "detail": "the scheduler does not answer"}
    assert body["checks"]["store"]["ok"] and body["checks"]["spool"]["ok"]
    assert "Unable to contact slurm controller" in gateway.log()  # the detail is in the log
    flag.unlink()
    wait_for(lambda: readiness(gateway)[0] == 200, 15, "never ready again")


def test_ready_follows_the_job_store(fresh_gateway, database):  # noqa: F811 - the imported fixture
    import sqlalchemy

    name = database.rsplit("/", 1)[1]
    gateway = fresh_gateway({"database": {"url": database, "retry": 5}})
    assert readiness(gateway)[0] == 200
    admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"alter database {name} allow_connections false"))
            connection.execute(sqlalchemy.text("select pg_terminate_backend(pid) from pg_stat_activity "
                                               "where datname = :name"), {"name": name})
        status, body = wait_for(lambda: (r := readiness(gateway))[0] == 503 and r, 20, "never unready")
        assert body["checks"]["store"] == {"ok": False, "detail": "the job store cannot be written"}
        assert body["checks"]["spool"]["ok"]
        assert requests.get(gateway.base + "/health/live", timeout=10).status_code == 200  # alive, not ready
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"alter database {name} allow_connections true"))
        admin.dispose()
    wait_for(lambda: readiness(gateway)[0] == 200, 20, "never ready again")
    assert b"ProcessSucceeded" in gateway.execute("hello", "name=back").content


def test_ready_asks_grid_engine_through_the_drmaa_session(fresh_gateway):
    from .schedulers import gridengine_env

    require("gridengine")
    gateway = fresh_gateway({"processing": {"mode": "drmaa"}}, env=gridengine_env())
    status, body = readiness(gateway)
    assert status == 200, body
    assert body["checks"]["scheduler"] == {"ok": True, "detail": "ok"}


@pytest.mark.parametrize("mode", ["local", "slurm", "drmaa"])
def test_every_job_event_is_logged_and_counted(fresh_gateway, mode):
    """The lifecycle's observers: one INFO line per event with job id, process and backend, and the job
    metrics moving, on each backend."""
    from .gateway import status_of, uuid_of
    from .schedulers import gridengine_env

    env = None
    if mode != "local":
        require("slurm" if mode == "slurm" else "gridengine")
        env = gridengine_env() if mode == "drmaa" else None
    gateway = fresh_gateway({"processing": {"mode": mode}}, env=env)
    before = scrape(gateway.base)
    accepted = gateway.execute("hello", "name=events", storeExecuteResponse="true", status="true")
    location = accepted.content.split(b'statusLocation="')[1].split(b'"')[0].decode()
    assert status_of(gateway.wait_final(location, timeout=120)) == "ProcessSucceeded"
    uuid = uuid_of(location)
    wait_for(lambda: f"job {uuid} succeeded" in gateway.log(), 30, "no succeeded line in the log")
    log = gateway.log()
    # a scheduler job that ends between two monitor rounds is never seen running: no "started" line then
    for kind in ("accepted", "started", "succeeded") if mode == "local" else ("accepted", "succeeded"):
        assert f"job {uuid} {kind}: process=hello backend={mode}" in log, log[-3000:]
    if mode != "local":
        assert f"job {uuid} submitted: process=hello backend={mode} scheduler_id=" in log, log[-3000:]
    after = scrape(gateway.base)
    for kind in ("accepted", "succeeded"):
        assert sample(after, "wpsgate_job_events_total", event=kind, process="hello", backend=mode) - \
            sample(before, "wpsgate_job_events_total", event=kind, process="hello", backend=mode) == 1
    assert sample(after, "wpsgate_job_duration_seconds_count", process="hello", backend=mode, state="succeeded") == 1
    assert sample(after, "wpsgate_jobs", state="running", process="hello", backend=mode) == 0
    if mode != "local":  # the submission, timed (a job that ends before the monitor's round needs no poll)
        assert sample(after, "wpsgate_scheduler_submit_seconds_count", backend=mode) >= 1
        assert sample(after, "wpsgate_scheduler_errors_total", backend=mode, operation="submit") == 0


def test_failed_dismissed_and_expired_jobs_log_their_lines(fresh_gateway):
    """The ends other than success, on a real gateway: failed with its reason, dismissed, expired."""
    from .gateway import status_of, uuid_of

    gateway = fresh_gateway({"processing": {"cleanup_interval": 0.5}})

    def accepted(identifier, inputs, **params):
        response = gateway.execute(identifier, inputs, storeExecuteResponse="true", status="true", **params)
        return response.content.split(b'statusLocation="')[1].split(b'"')[0].decode()

    failing = accepted("show_error", "message=it broke;nice=true")
    assert status_of(gateway.wait_final(failing)) == "ProcessFailed"
    sleeping = accepted("sleep", "delay=5")
    assert requests.delete(f"{gateway.base}/status/{uuid_of(sleeping)}", timeout=30).status_code == 200
    short = accepted("hello", "name=brief", EXPIRE="1")
    assert status_of(gateway.wait_final(short)) == "ProcessSucceeded"
    lines = {
        "failed": f'job {uuid_of(failing)} failed: process=show_error backend=local reason="it broke"',
        "dismissed": f"job {uuid_of(sleeping)} dismissed: process=sleep backend=local",
        "expired": f"job {uuid_of(short)} expired: process=hello backend=local",
    }
    wait_for(lambda: all(line in gateway.log() for line in lines.values()), 30,
             f"missing lifecycle lines: {[k for k, v in lines.items() if v not in gateway.log()]}")
    after = scrape(gateway.base)
    for kind, process in (("failed", "show_error"), ("dismissed", "sleep"), ("expired", "hello")):
        assert sample(after, "wpsgate_job_events_total", event=kind, process=process, backend="local") == 1
