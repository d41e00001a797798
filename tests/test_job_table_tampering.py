"""A job table written by someone else: crafted rows never run code, never stop the gateway's start, and
fail their jobs with the reason; rows of the previous version (a pickled context) are migrated without
unpickling them."""
from __future__ import annotations

import asyncio
import json
import os
import pickle
import sqlite3
import uuid as _uuid

from wpsgate.backends.base import ClusterBackend, SchedulerState
from wpsgate.jobs.cluster import ClusterSettings, SchedulerRunner
from wpsgate.jobs.lifecycle import Lifecycle
from wpsgate.jobs.folder import JobFolder, atomic_write
from wpsgate.jobs.jobfile import load_or_create_key, sign
from wpsgate.jobs.serial import SerialExecutor
from wpsgate.jobs.store import JobStore, now
from wpsgate.protocol.context_codec import context_from_json, encode_column
from wpsgate.protocol.documents import ResponseContext

from .gateway import GatewayProcess, literal_outputs
from .processes import ALL
from .schemas import assert_valid


class Marker:
    """Creates a file when unpickled: the proof that a row was unpickled."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def context(uuid: str) -> ResponseContext:
    return ResponseContext(service_instance="http://127.0.0.1:9/wps?service=WPS&request=GetCapabilities",
                           process_identifier="hello", process_title="Say Hello",
                           status_location=f"http://127.0.0.1:9/status/{uuid}.xml")


def new_uuid() -> str:
    return str(_uuid.uuid4())


def insert(store: JobStore, uuid: str, backend: str = "local", status: str = "accepted", **values) -> None:
    row = dict(uuid=uuid, process="hello", status=status, percent=0, message="waiting", created=now(),
               expire_seconds=60, timeout=60, backend=backend, is_async=True, request="{}", outputs="[]",
               context=encode_column(context(uuid)))
    row.update(values)
    store.insert(**row)


def legacy_job_file(key: bytes, spool: str, uuid: str) -> JobFolder:
    """A job folder as the previous version wrote it: an outer pickle holding the context, signed."""
    folder = JobFolder(spool, uuid).create()
    record = {"version": 1, "context": context(uuid), "job": b"not used"}
    atomic_write(folder.job_file, sign(key, uuid, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)))
    return folder


def raw_row(path: str, uuid: str) -> dict:
    """A row as SQLite holds it (no type conversion that garbage could break)."""
    with sqlite3.connect(path) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute("select * from jobs where uuid = ?", (uuid,)).fetchone()
    return dict(row)


def test_crafted_rows_in_every_column_neither_run_code_nor_stop_the_start(tmp_path):
    workdir = str(tmp_path / "gw")
    database = os.path.join(workdir, "jobs.sqlite")
    secrets = {"SECRET_TOKEN": "s3cr3t", "WPSGATE_DATABASE__URL": "sqlite:///" + database, "ALLOWED_VAR": "yes"}
    config = {"processes": ALL, "scheduler": {"environment": ["PATH", "ALLOWED_VAR", "FIXED=1"]}}
    gateway = GatewayProcess(workdir, config, env=secrets).start()
    try:  # the local pool's workers: process code sees the allow-list, not the gateway's secrets
        answer = gateway.execute("environ")
        seen = json.loads(literal_outputs(assert_valid(answer.content))["output"])
        assert not {"SECRET_TOKEN", "WPSGATE_DATABASE__URL"} & set(seen), seen
        assert (seen["ALLOWED_VAR"], seen["FIXED"]) == ("yes", "1")
    finally:
        gateway.stop()

    marker = str(tmp_path / "unpickled")
    crafted = pickle.dumps(Marker(marker))
    key = load_or_create_key(os.path.join(workdir, "job.key"))
    spool = os.path.join(workdir, "spool")
    store = JobStore("sqlite:///" + database)
    rows = {name: new_uuid() for name in ("pickle", "started-pickle", "garbage", "shape", "columns", "dates",
                                          "legacy")}
    insert(store, rows["pickle"], context=crafted)
    insert(store, rows["started-pickle"], status="started", context=crafted)
    insert(store, rows["garbage"], context=b"\x00garbage, not JSON")
    insert(store, rows["shape"], context=b'{"version": 1, "context": {"service_instance": "s", '
                                         b'"process_identifier": "p", "process_title": "t", "__reduce__": 1}}')
    insert(store, rows["columns"], backend_id="1; touch /tmp/x")
    insert(store, rows["dates"])
    insert(store, rows["legacy"], context=pickle.dumps(context(rows["legacy"])))
    insert(store, "not-a-uuid/../../etc", context=crafted)
    legacy_folder = legacy_job_file(key, spool, rows["legacy"])
    store.close()
    with sqlite3.connect(database) as connection:  # what no SQLAlchemy type would write
        connection.execute("update jobs set timeout = 'soon', expire_seconds = x'00ff' where uuid = ?",
                           (rows["columns"],))
        connection.execute("update jobs set created = 'yesterday', started = 'garbage' where uuid = ?",
                           (rows["dates"],))

    restarted = GatewayProcess(workdir, config, port=gateway.port).start()  # raises if it does not start
    try:
        assert not os.path.exists(marker), "a row was unpickled"
        assert restarted.execute("hello", "name=again").status_code == 200  # and it serves
        messages = {name: raw_row(database, uuid) for name, uuid in rows.items()}
        assert all(row["status"] == "failed" for row in messages.values()), messages
        expected = {"pickle": "the job's stored request context cannot be read: it is a pickle",
                    "started-pickle": "the job's stored request context cannot be read: it is a pickle",
                    "garbage": "the job's stored request context cannot be read: it is not",
                    "shape": "the job's stored request context cannot be read: context: unknown field '__reduce__'",
                    "columns": "the job's record cannot be read: its scheduler job id is not an id; its timeout",
                    "dates": "the queued job could not be resumed",
                    "legacy": "the queued job could not be resumed: the job file has format version 1"}
        for name, text in expected.items():
            assert messages[name]["message"].startswith(text), (name, messages[name]["message"])
        assert raw_row(database, "not-a-uuid/../../etc")["status"] == "failed"
        # the legacy job's context came from its verified job file: its document says why it failed
        document = restarted.session.get(f"{restarted.base}/status/{rows['legacy']}.xml", timeout=10)
        assert b"format version 1" in document.content and b"ProcessFailed" in document.content
        assert os.path.isdir(legacy_folder.path)
    finally:
        restarted.stop()


class FakeScheduler(ClusterBackend):
    name = "fake"

    def valid_id(self, job_id: str) -> bool:
        return job_id.isdigit()

    def submit(self, job):  # pragma: no cover - recovery submits nothing
        raise AssertionError("recovery must not submit")

    def find(self, names):  # pragma: no cover - every row here has an id or fails
        raise AssertionError("no job here lacks its id")

    def poll(self, ids):
        return {i: SchedulerState("running") for i in ids}

    def cancel(self, job_id):
        pass


def test_scheduler_rows_are_migrated_or_failed_without_unpickling(tmp_path):
    spool = str(tmp_path / "spool")
    key = load_or_create_key(str(tmp_path / "job.key"))
    store = JobStore("sqlite:///" + str(tmp_path / "jobs.sqlite"))
    marker = str(tmp_path / "unpickled")
    crafted = pickle.dumps(Marker(marker))
    legacy, forged, bad_id, bad_file_id, fine = (new_uuid() for _ in range(5))
    legacy_job_file(key, spool, legacy)
    insert(store, legacy, backend="fake", status="started", backend_id="41",
           context=pickle.dumps(context(legacy)))
    forged_folder = JobFolder(spool, forged).create()  # a job file signed with another key does not help
    atomic_write(forged_folder.job_file, sign(b"x" * 64, forged, pickle.dumps({"version": 1, "context": Marker(marker),
                                                                             "job": b""})))
    insert(store, forged, backend="fake", backend_id="42", context=crafted)
    insert(store, bad_id, backend="fake", backend_id="42abc")
    bad_file_folder = JobFolder(spool, bad_file_id).create()
    atomic_write(os.path.join(bad_file_folder.path, "scheduler.id"), b"$(touch /tmp/x)")
    insert(store, bad_file_id, backend="fake")
    insert(store, fine, backend="fake", backend_id="43")

    async def recover():
        runner = SchedulerRunner(backend_factory=FakeScheduler, spool=spool, key=key,
                                 settings=ClusterSettings(key_path="", python="", poll_interval=60, retries=1,
                                                          nfs_grace=1))
        lifecycle = Lifecycle(store=store, spool=spool, key=key, io=SerialExecutor())
        runner.backend, runner.name, runner.events = FakeScheduler(), "fake", lifecycle
        await lifecycle.recover(runner)
        runner.thread.shutdown()
        runner.disk.shutdown()
        lifecycle.io.shutdown()
        return runner.active

    active = asyncio.run(recover())
    assert not os.path.exists(marker)
    assert set(active) == {legacy, fine}  # both followed to their end, nothing submitted again
    assert active[legacy].context == context(legacy) and active[legacy].backend_id == "41"
    assert context_from_json(store.get(legacy).context) == context(legacy)  # the row now holds JSON
    assert store.get(forged).status == "failed"
    assert "pickle" in store.get(forged).message and "signature" in store.get(forged).message
    assert store.get(bad_id).status == "failed" and "is not one fake gives" in store.get(bad_id).message
    assert store.get(bad_file_id).status == "failed" and "is not one fake gives" in store.get(bad_file_id).message
    with open(JobFolder(spool, bad_file_id).status, "rb") as handle:  # a truthful document from the JSON context
        assert b"ProcessFailed" in handle.read()
    store.close()
