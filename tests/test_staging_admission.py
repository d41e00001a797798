"""Admission before staging, and bounded download concurrency.

A request that will be refused for capacity (a full queue on the local pool, no
worker within sync_wait, scheduler.maxjobs) must be refused before any of its
references is fetched: a loopback origin that counts requests sees none.  Downloads
run concurrently, at most 4 of one request and at most ``server.max_downloads`` in the
gateway: an origin that holds each request until the bound is reached counts how many
were in flight at once.  Loopback only, bounded in count and time.
"""
from __future__ import annotations

import asyncio
import http.server
import os
import threading
import uuid as _uuid

import pytest
from lxml import etree

from wpsgate.config import config_from_mapping
from wpsgate.exceptions import ServerBusy
from wpsgate.jobs.cluster import ClusterSettings, SchedulerRunner
from wpsgate.jobs.staging import Stager
from wpsgate.process import FORMATS, InputData
from wpsgate.protocol.requests import ExecuteRequest, InputReference, RawInput
from wpsgate.registry import load_processes
from wpsgate.service import Urls, WPSService

from .gateway import exception_of, uuid_of, wait_for
from .loopback import loopback_server
from .test_references import by_reference


class _Counting(http.server.BaseHTTPRequestHandler):
    """Counts requests; each waits (at most 1 s) until ``hold_until`` are in flight, to show concurrency."""

    lock = threading.Condition()
    requests = 0
    in_flight = 0
    most = 0
    hold_until = 0

    def do_GET(self):
        cls = type(self)
        with cls.lock:
            cls.requests += 1
            cls.in_flight += 1
            cls.most = max(cls.most, cls.in_flight)
            cls.lock.notify_all()
            cls.lock.wait_for(lambda: cls.in_flight >= cls.hold_until, timeout=1.0)
        body = b"counted words"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        finally:
            with cls.lock:
                cls.in_flight -= 1

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def origin():
    with loopback_server(_Counting) as server:
        yield server.url


def reset(hold_until: int = 0) -> None:
    with _Counting.lock:
        _Counting.requests = _Counting.in_flight = _Counting.most = 0
        _Counting.hold_until = hold_until


def test_refused_for_capacity_before_any_download(fresh_gateway, origin):
    """One worker busy, the queue (maxqueue 1) full: async and sync Executes with a reference are refused
    and the origin is never asked; once there is room the same request is served (the counter counts)."""
    gateway = fresh_gateway({"server": {"allowednetworks": ["127.0.0.0/8"]},
                             "processing": {"parallelprocesses": 1, "maxqueue": 1, "sync_wait": 0.3}})
    reset()
    running = gateway.execute("sleep", "delay=0.3", storeExecuteResponse="true", status="true")
    running_location = etree.fromstring(running.content).get("statusLocation")
    wait_for(lambda: gateway.job(uuid_of(running_location))["status"] == "started", 20, "the first job did not start")
    queued = gateway.execute("sleep", "delay=0.05", storeExecuteResponse="true")
    assert queued.status_code == 200, queued.text
    reference = by_reference(origin + "/words.txt")
    for params in ({"storeExecuteResponse": "true"}, {}):  # async: the queue is full; sync: no worker in time
        response = gateway.execute("wordcounter", reference, **params)
        code, _, _ = exception_of(response)
        assert (response.status_code, code) == (503, "ServerBusy"), response.text
    assert _Counting.requests == 0
    gateway.wait_final(etree.fromstring(queued.content).get("statusLocation"), timeout=30)
    response = gateway.execute("wordcounter", reference, ResponseDocument="output@asReference=false")
    assert response.status_code == 200 and b"counted" in response.content, response.text
    assert _Counting.requests == 1


def _service_with(engine, stager) -> WPSService:
    config = config_from_mapping({}, environ={})
    return WPSService(config, load_processes(()), engine, Urls("http://127.0.0.1:9"), stager)


def test_execute_asks_for_admission_before_staging():
    """Whatever the engine's reason (here the scheduler's maxjobs), a refusal comes before the stager is called."""
    calls = []

    class Engine:
        async def admit(self, spec, process):
            calls.append("admit")
            raise ServerBusy("the scheduler is full")

    class Stager_:
        async def stage(self, *args):
            calls.append("stage")

    reference = InputReference(href="http://127.0.0.1:9/words.txt", headers=(("Authorization", "x"),))
    request = ExecuteRequest(identifier="wordcounter", inputs=(RawInput("text", reference=reference),),
                             store_execute_response=True)
    with pytest.raises(ServerBusy):
        asyncio.run(_service_with(Engine(), Stager_()).execute(request))
    assert calls == ["admit"]


def test_scheduler_capacity_check(tmp_path):
    settings = ClusterSettings(key_path="", python="", poll_interval=1, retries=1, nfs_grace=1, maxjobs=2)
    runner = SchedulerRunner(backend_factory=lambda: None, spool=str(tmp_path), key=b"k" * 32, settings=settings)
    try:
        asyncio.run(runner.admit(True))  # nothing followed yet: admitted
        runner.active["x"] = object()
        runner.check_before_persist()
        runner.pending.append(object())  # accepted, not yet submitted: counts as well
        with pytest.raises(ServerBusy):
            asyncio.run(runner.admit(True))
        with pytest.raises(ServerBusy):
            runner.check_before_persist()
    finally:
        runner.thread.shutdown()
        runner.disk.shutdown()


def _references(origin: str, count: int) -> tuple[dict, dict]:
    inputs = {"text": [InputData("text", "complex", url=f"{origin}/words.txt?{i}", data_format=FORMATS.TEXT)
                       for i in range(count)]}
    return inputs, {("text", i): InputReference(href=item.url) for i, item in enumerate(inputs["text"])}


def _stage_all(spool: str, origin: str, requests: int, references: int, max_downloads: int) -> list[dict]:
    async def run() -> list[dict]:
        stager = Stager(spool=spool, own_base_url="http://127.0.0.1:9", allowed_paths=(),
                        allowed_networks=["127.0.0.0/8"], max_bytes=1024, timeout=20, max_downloads=max_downloads)
        try:
            jobs = [_references(origin, references)[0] for _ in range(requests)]
            await asyncio.gather(*(stager.stage(str(_uuid.uuid4()), inputs, _references(origin, references)[1])
                                   for inputs in jobs))
            return jobs
        finally:
            stager.close()
    return asyncio.run(run())


def test_references_of_one_request_are_staged_concurrently_at_most_four(tmp_path, origin):
    reset(hold_until=4)
    jobs = _stage_all(str(tmp_path), origin, requests=1, references=6, max_downloads=16)
    assert _Counting.requests == 6
    assert _Counting.most == 4
    for item in jobs[0]["text"]:
        with open(item._path, "rb") as handle:
            assert handle.read() == b"counted words"
        assert os.stat(item._path).st_mode & 0o007 == 0


def test_downloads_of_all_requests_are_bounded_by_max_downloads(tmp_path, origin):
    reset(hold_until=3)
    _stage_all(str(tmp_path), origin, requests=3, references=2, max_downloads=2)
    assert _Counting.requests == 6
    assert _Counting.most == 2
