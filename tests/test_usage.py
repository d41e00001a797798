"""What jobs cost, and ``wpsgate usage``.

The meter measures one job at a time in a process that runs many (a warm worker); real jobs on a
gateway record CPU seconds and peak memory in their final record and their row, and ``wpsgate
usage`` adds up exactly what those say, also after the jobs' folders expired.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
import time

import pytest
from lxml import etree

from wpsgate.jobs.folder import FinalRecord, JobFolder
from wpsgate.jobs.store import JobStore, now
from wpsgate.jobs.usage import UsageMeter
from wpsgate.usage_report import ANONYMOUS, collect, outcome_of

from .gateway import uuid_of, wait_for
from .schedulers import REPO

PROCESSES = ["wpsgate.demo.hello:Hello", "wpsgate.demo.show_error:ShowError", "tests.usage_processes:burn"]


def _burn(seconds: float, megabytes: int) -> None:
    block = bytearray(megabytes * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_the_meter_measures_each_job_of_a_long_lived_process_on_its_own():
    first = UsageMeter.start()
    _burn(0.3, 120)
    subprocess.run([sys.executable, "-c", "import time\nend = time.process_time() + 0.3\n"
                                          "while time.process_time() < end: pass"], check=True)
    cpu, peak = first.read()
    assert cpu >= 0.55  # its own 0.3 s and its child's 0.3 s
    second = UsageMeter.start()
    _burn(0.05, 1)
    cpu2, peak2 = second.read()
    assert 0.04 <= cpu2 < 0.3  # not the process's total
    assert peak >= 120 and peak2 < peak - 80  # the peak was reset for the second job


def _insert(store, uuid, owner, status, started, seconds, cpu=None, peak=None, message=""):
    store.insert(uuid=uuid, process="burn", status=status, percent=100, message=message, created=started,
                 started=started, finished=started + _dt.timedelta(seconds=seconds) if seconds is not None else None,
                 expire_seconds=60, timeout=60, backend="local", is_async=True, request="{}", outputs="[]",
                 context=None, owner=owner, cpu_seconds=cpu, peak_memory_mb=peak)


def test_collect_sums_per_user_keeps_expired_outcomes_and_reads_old_rows_from_their_folders(tmp_path):
    store = JobStore("sqlite:///" + str(tmp_path / "jobs.sqlite"))
    t0 = now() - _dt.timedelta(hours=1)
    ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(7)]
    _insert(store, ids[0], "alice", "succeeded", t0, 10, cpu=4.0, peak=100)
    _insert(store, ids[1], "alice", "expired", t0, 5, cpu=1.5, peak=300, message="expired; the results were "
                                                                                  "removed (failed before)")
    _insert(store, ids[2], "alice", "started", t0, None)  # running: counted, no wall time yet
    _insert(store, ids[3], "bob", "succeeded", t0, 2)  # a row from before the usage columns: its folder tells
    folder = JobFolder(str(tmp_path), ids[3]).create()
    folder.write_final(FinalRecord(state="succeeded", cpu_seconds=1.25, peak_memory_mb=42.0), None)
    _insert(store, ids[4], "bob", "expired", t0, 3, message="expired; the results were removed (succeeded before)")
    _insert(store, ids[5], None, "dismissed", t0, 1, cpu=0.5, peak=10)
    _insert(store, ids[6], "carol", "succeeded", t0 - _dt.timedelta(days=3), 7, cpu=9.0, peak=1)
    usage = {u.user: u.as_dict() for u in collect(store, str(tmp_path), since=t0 - _dt.timedelta(minutes=1))}
    store.close()
    assert set(usage) == {"alice", "bob", ANONYMOUS}  # carol's job is older than --since
    assert usage["alice"] == {"user": "alice", "jobs": 3, "outcomes": {"failed": 1, "started": 1, "succeeded": 1},
                              "wall_seconds": 15.0, "cpu_seconds": 5.5, "peak_memory_mb": 300.0,
                              "jobs_without_figures": 0}
    assert usage["bob"]["outcomes"] == {"succeeded": 2} and usage["bob"]["cpu_seconds"] == 1.25
    assert usage["bob"]["peak_memory_mb"] == 42.0 and usage["bob"]["jobs_without_figures"] == 1  # expired, old
    assert usage[ANONYMOUS]["outcomes"] == {"dismissed": 1}
    assert outcome_of("expired", "expired; something else") == "expired"


def usage_json(gateway, *args):
    result = subprocess.run([sys.executable, "-m", "wpsgate", "usage", "--config", gateway.config_path, "--json",
                             *args], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return {u["user"]: u for u in json.loads(result.stdout)["users"]}


def test_usage_adds_up_what_the_jobs_records_say_and_survives_expiry(fresh_gateway):
    gateway = fresh_gateway({"processes": PROCESSES, "processing": {"cleanup_interval": 0.5}})
    locations = [
        etree.fromstring(gateway.execute("burn", inputs, storeExecuteResponse="true", EXPIRE="8").content)
        .get("statusLocation")
        for inputs in ("seconds=0.3;megabytes=80", "seconds=0.2;megabytes=10;child=0.3")]
    failing = gateway.execute("show_error", "message=no", storeExecuteResponse="true", EXPIRE="8")
    locations.append(etree.fromstring(failing.content).get("statusLocation"))
    sync = gateway.execute("burn", "seconds=0.2;megabytes=5")
    assert sync.status_code == 200, sync.text
    for location in locations:
        gateway.wait_final(location)
    uuids = [uuid_of(location) for location in locations]
    wait_for(lambda: all(gateway.job(u)["status"] in ("succeeded", "failed") for u in uuids), 20, "rows not final")
    records = [JobFolder(os.path.join(gateway.workdir, "spool"), u).read_final() for u in uuids]
    assert records[0].cpu_seconds >= 0.3 and records[0].peak_memory_mb >= 80
    assert records[1].cpu_seconds >= 0.5  # the child's CPU is the job's too
    store = JobStore("sqlite:///" + os.path.join(gateway.workdir, "jobs.sqlite"))
    try:
        rows = {row.uuid: row for row in store.list(limit=10)}
    finally:
        store.close()
    for uuid, record in zip(uuids, records):  # the row keeps what the final record says
        assert (rows[uuid].cpu_seconds, rows[uuid].peak_memory_mb) == (record.cpu_seconds, record.peak_memory_mb)
    (sync_row,) = [row for uuid, row in rows.items() if uuid not in uuids]
    assert sync_row.cpu_seconds >= 0.2

    def expected() -> dict:
        return {"jobs": 4, "outcomes": {"failed": 1, "succeeded": 3},
                "cpu_seconds": round(sum(r.cpu_seconds for r in records) + sync_row.cpu_seconds, 3),
                "peak_memory_mb": max(max(r.peak_memory_mb for r in records), sync_row.peak_memory_mb),
                "wall_seconds": round(sum((r.finished - r.started).total_seconds() for r in rows.values()), 3),
                "jobs_without_figures": 0}

    before = usage_json(gateway)[ANONYMOUS]
    wanted = expected()
    assert before["outcomes"] == wanted.pop("outcomes")
    assert {k: before[k] for k in wanted} == pytest.approx(wanted)
    wait_for(lambda: all(gateway.job(u)["status"] == "expired" for u in uuids), 30, "the jobs did not expire")
    assert not os.path.exists(os.path.join(gateway.workdir, "spool", uuids[0]))
    assert usage_json(gateway)[ANONYMOUS] == before  # the figures and outcomes outlive the folders
    assert usage_json(gateway, "--user", "alice") == {}
    assert usage_json(gateway, "--since", "2999-01-01") == {}


def test_usage_refuses_a_bad_date_and_a_missing_store(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "wpsgate", "usage", "--workdir", str(tmp_path), "--since", "soon"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 2 and "--since 'soon' is not a date" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "wpsgate", "usage", "--workdir", str(tmp_path)],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
    assert missing.returncode == 1 and "no job store" in missing.stderr and "Traceback" not in missing.stderr
    assert not os.path.exists(tmp_path / "jobs.sqlite")  # a report creates no job store
