"""The job table on PostgreSQL, restarted under load: no request crashes, the state converges.

Needs the PostgreSQL that slurm-demo/postgres-start.sh starts (CI does); skipped elsewhere.
"""
import os
import subprocess
import threading
import time
import uuid as _uuid

import pytest
import requests
from lxml import etree

from .gateway import literal_outputs, uuid_of, wait_for

ADMIN_URL = "postgresql+psycopg2://wpsgate:wpsgate@127.0.0.1/wpsgate"


def _postgres_version():
    try:
        return sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(p) for p in v.split(".")])[-1]
    except (FileNotFoundError, IndexError, ValueError):
        return None


@pytest.fixture
def database():
    """A database of the test's own on the local PostgreSQL."""
    sqlalchemy = pytest.importorskip("sqlalchemy")
    try:
        admin = sqlalchemy.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        admin.connect().close()
    except Exception as exc:  # noqa: BLE001 - reported as the reason
        message = f"PostgreSQL is not running ({exc.__class__.__name__}); start it with bash slurm-demo/postgres-start.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    name = f"wpsgate_test_{_uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"create database {name}"))
    yield ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"drop database if exists {name} with (force)"))
    admin.dispose()


def test_postgresql_restart_under_load(fresh_gateway, database):
    version = _postgres_version()
    gateway = fresh_gateway({"database": {"url": database, "retry": 30}, "processing": {"parallelprocesses": 2}})
    accepted, answers, stop = [], [], threading.Event()

    def client():
        session = requests.Session()
        while not stop.is_set():
            response = session.get(gateway.wps, timeout=60, params={
                "service": "WPS", "request": "Execute", "version": "1.0.0", "identifier": "sleep",
                "DataInputs": "delay=0.1", "storeExecuteResponse": "true", "status": "true"})
            answers.append(response.status_code)
            assert b"Traceback" not in response.content
            if response.status_code == 200:
                accepted.append(etree.fromstring(response.content).get("statusLocation"))
            listing = session.get(gateway.base + "/status/", params={"limit": 5}, timeout=60)
            answers.append(listing.status_code)
            time.sleep(0.3)

    threads = [threading.Thread(target=client) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(accepted) >= 6, 60, "no jobs were accepted before the restart")
    subprocess.run(["pg_ctlcluster", version, "main", "restart", "-m", "fast"], check=True, timeout=120,
                   capture_output=True)
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(90)
    assert set(answers) <= {200, 503}, sorted(set(answers))  # busy at worst, never a crash
    assert 500 not in answers
    for location in accepted:
        assert literal_outputs(gateway.wait_final(location, timeout=120)) == {"sleep_output": "done sleeping"}
    for location in accepted:  # the table converges on what the documents say
        wait_for(lambda: gateway.job(uuid_of(location))["status"] == "succeeded", 60,
                 f"job {uuid_of(location)} never recorded as succeeded")
    log = gateway.log()
    assert "Traceback" not in log
    assert "job store unavailable" in log or 503 in answers  # the outage was really met
