"""Status documents of local jobs are served from memory: the engine hands over each document as it is
written and forgets it before the job's files go, so a poll never returns what the job folder does not
say, nor anything after a dismiss or expiry."""
from __future__ import annotations

import asyncio
import os
import time

import requests
from lxml import etree

from wpsgate.backends.local import WorkerPool
from wpsgate.backends.local_runner import LocalRunner
from wpsgate.config import load_config
from wpsgate.jobs.folder import JobFolder
from wpsgate.jobs.manager import JobManager
from wpsgate.jobs.serial import SerialExecutor
from wpsgate.jobs.store import JobStore
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.registry import load_processes
from wpsgate.server.answer_cache import AnswerCache, CachedAnswerDelegate
from wpsgate.server.jobs import STATUS_DOCUMENT_MAX_BYTES, status_document_keeper
from wpsgate.service import Urls, WPSService

from .gateway import NS, status_of, uuid_of
from .schemas import assert_valid

ASYNC = ("service=WPS&version=1.0.0&request=Execute&identifier=ultimate_question"
         "&storeExecuteResponse=true&status=true")


def _state(document: bytes) -> tuple[str, int]:
    element = etree.fromstring(document).find("wps:Status", NS)[0]
    return etree.QName(element).localname, int(element.get("percentCompleted") or 0)


def test_the_engine_hands_over_every_document_and_forgets_it_before_the_files_go(tmp_path):
    seen: list[tuple[str, bytes | None, bool]] = []

    async def scenario():
        config = load_config(None, overrides={"server": {"workdir": str(tmp_path)}})
        os.makedirs(config.spool)
        store = JobStore(config.database_url)
        pool = WorkerPool(1, config.processes)
        await pool.start()

        def on_document(uuid: str, document: bytes | None) -> None:
            seen.append((uuid, document, os.path.isdir(JobFolder(config.spool, uuid).path)))

        manager = JobManager(store=store, spool=config.spool, key=b"k" * 32, io=SerialExecutor(),
                             local=LocalRunner(pool, config.spool, b"k" * 32, maxqueue=10, sync_wait=5),
                             sync_wait=5, on_document=on_document)
        await manager.start()
        try:
            service = WPSService(config, load_processes(None), manager, Urls("http://127.0.0.1:9"))
            process, spec, timeout, expire = service.prepare(parse_kvp(ASYNC))
            answer = await manager.submit(spec, timeout, expire, process)
            deadline = time.monotonic() + 30
            while manager.current(spec.uuid).status not in ("succeeded", "failed"):
                assert time.monotonic() < deadline, "the job did not end"
                await asyncio.sleep(0.05)
            with open(JobFolder(config.spool, spec.uuid).status, "rb") as handle:
                on_disk = handle.read()
            await manager.dismiss(spec.uuid)
            return spec.uuid, answer, on_disk
        finally:
            await manager.close()
            await pool.close()
            store.close()

    uuid, answer, on_disk = asyncio.run(scenario())
    assert {u for u, _, _ in seen} == {uuid}
    documents = [d for _, d, _ in seen if d is not None]
    assert documents[0] == answer and _state(answer) == ("ProcessAccepted", 0)
    states = [_state(d) for d in documents]
    assert states[-1] == ("ProcessSucceeded", 0) and documents[-1] == on_disk
    started = [percent for state, percent in states if state == "ProcessStarted"]
    assert len(started) >= 4 and started == sorted(started)  # ultimate_question reports its steps
    for document in documents:
        assert_valid(document)
    last_uuid, last_document, folder_existed = seen[-1]
    assert last_document is None and folder_existed  # forgotten while the files were still there


def test_the_documents_cache_replaces_and_drops_and_keeps_its_headers():
    cache = AnswerCache(max_entries=2)
    keep = status_document_keeper(cache)
    keep("a", b"<one/>")
    keep("a", b"<two/>")
    assert cache.get("/status/a.xml").body == b"<two/>"
    assert dict(cache.get("/status/a.xml").headers) == {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
                                                        "Content-Security-Policy": "sandbox"}
    keep("a", None)
    assert cache.get("/status/a.xml") is None
    keep("b", b"<small/>")
    keep("b", b"<big>" + b"x" * STATUS_DOCUMENT_MAX_BYTES + b"</big>")  # too big: the file serves it
    assert cache.get("/status/b.xml") is None
    first, second = AnswerCache(), AnswerCache()
    second.set("/x", b"second", "text/plain")
    delegate = CachedAnswerDelegate(None, first, second)
    assert delegate.lookup("/x").body == b"second"
    first.set("/x", b"first", "text/plain")
    assert delegate.lookup("/x").body == b"first"


def test_polls_match_the_job_folder_and_stop_at_dismiss(gateway):
    response = gateway.execute("ultimate_question", storeExecuteResponse="true", status="true")
    location = assert_valid(response.content).get("statusLocation")
    seen = []
    deadline = time.monotonic() + 30
    while True:
        poll = requests.get(location, timeout=10)
        assert poll.status_code == 200 and poll.headers["Cache-Control"] == "no-cache"
        root = assert_valid(poll.content)
        seen.append(status_of(root))
        if seen[-1] in ("ProcessSucceeded", "ProcessFailed"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert seen[-1] == "ProcessSucceeded"
    path = os.path.join(gateway.workdir, "spool", uuid_of(location), "status.xml")
    with open(path, "rb") as handle:
        assert handle.read() == poll.content
    assert requests.delete(f"{gateway.base}/status/{uuid_of(location)}", timeout=10).status_code == 200
    assert requests.get(location, timeout=10).status_code == 404
