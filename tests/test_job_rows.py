"""The job table as running jobs update it: merged updates, final states kept, and the JSON view of a
job whose document is ahead of its row."""
from __future__ import annotations

import asyncio

import pytest

from wpsgate.jobs.folder import JobFolder
from wpsgate.jobs.manager import JobManager
from wpsgate.jobs.row_updates import RowUpdates
from wpsgate.jobs.serial import SerialExecutor
from wpsgate.jobs.store import JobStore, now
from wpsgate.protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response

UUIDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(6)]


@pytest.fixture
def store(tmp_path):
    store = JobStore("sqlite:///" + str(tmp_path / "jobs.sqlite"))
    for uuid in UUIDS:
        store.insert(uuid=uuid, process="hello", status="accepted", percent=0, message="waiting",
                     created=now(), expire_seconds=60, timeout=60, backend="local", is_async=True,
                     request="{}", outputs="[]")
    yield store
    store.close()


def test_updates_given_together_are_merged_per_job_and_written_in_one_turn(store):
    io = SerialExecutor()

    async def scenario():
        rows = RowUpdates(store, io)
        started = now()
        futures = [rows.update(UUIDS[0], status="started", started=started, message="started"),
                   rows.update(UUIDS[0], message="half way", percent=50),
                   rows.update(UUIDS[1], status="started", message="started"),
                   rows.update(UUIDS[1], status="succeeded", percent=100, message="done", finished=started),
                   rows.update(UUIDS[2], status="started", message="other keys", percent=5)]
        await asyncio.gather(*futures)
        return futures

    futures = asyncio.run(scenario())
    io.shutdown()
    assert len({id(f) for f in futures}) == 1  # one write took all five updates
    first, second, third = (store.get(u) for u in UUIDS[:3])
    assert (first.status, first.message, first.percent) == ("started", "half way", 50)
    assert first.started is not None
    assert (second.status, second.message, second.percent) == ("succeeded", "done", 100)
    assert (third.status, third.message, third.percent) == ("started", "other keys", 5)


def test_a_final_state_is_never_overwritten_by_a_late_update(store):
    store.update(UUIDS[3], status="dismissed", message="dismissed by request")
    store.update_active_many({UUIDS[3]: {"status": "started", "message": "late progress", "percent": 80},
                              UUIDS[4]: {"status": "started", "message": "running", "percent": 10}})
    assert (store.get(UUIDS[3]).status, store.get(UUIDS[3]).message) == ("dismissed", "dismissed by request")
    assert (store.get(UUIDS[4]).status, store.get(UUIDS[4]).percent) == ("started", 10)


def test_a_failed_write_reaches_every_waiter(store):
    io = SerialExecutor()

    async def scenario():
        rows = RowUpdates(store, io)
        return await asyncio.gather(rows.update(UUIDS[0], no_such_column=1), rows.update(UUIDS[1], percent=3),
                                    return_exceptions=True)

    results = asyncio.run(scenario())
    io.shutdown()
    assert all(isinstance(result, Exception) for result in results)


def _context(uuid: str) -> ResponseContext:
    return ResponseContext(service_instance="http://127.0.0.1:9/wps?service=WPS&request=GetCapabilities",
                           process_identifier="hello", process_title="Hello",
                           status_location=f"http://127.0.0.1:9/status/{uuid}.xml")


@pytest.mark.parametrize("status, expected", [
    (JobStatus("started", "working (30%)", 30), ("started", "running", 0)),
    (JobStatus("succeeded", "Process succeeded"), ("succeeded", "Process succeeded", 100)),
    (JobStatus("failed", "the sky fell", error=ExceptionInfo("NoApplicableCode", "the sky fell")),
     ("failed", "the sky fell", 0)),
])
def test_the_job_view_follows_a_final_document_before_the_row_does(tmp_path, store, status, expected):
    uuid = UUIDS[5]
    store.update(uuid, status="started", message="running")
    spool = str(tmp_path / "spool")
    JobFolder(spool, uuid).create().write_status(render_execute_response(_context(uuid), status))
    manager = JobManager(store=store, spool=spool, key=b"k" * 32, io=SerialExecutor(), local=None)
    view = manager.current(uuid)
    assert (view.status, view.message, view.percent) == expected
    assert store.get(uuid).status == "started"  # the view corrects nothing in the table itself
    manager.io.shutdown()
