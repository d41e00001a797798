"""The local pool as a runner: a bounded first-in first-out queue in front of the warm workers.

Async jobs wait in the queue (persisted first by the lifecycle) and run on the next idle
worker; synchronous jobs run at once on an idle worker (``run_inline``).  A worker that dies or
is killed fails its job with the reason; after a restart, jobs that were running fail (their
worker went with the gateway) and queued ones are read back from their signed job files.
"""
from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

from ..exceptions import ServerBusy
from ..jobs.folder import JobFolder
from ..jobs.jobfile import read_job_file
from ..jobs.lifecycle import Job, JobEnd, PersistOptions, RunnerEvents
from ..jobs.runner import JobOutcome
from ..jobs.states import JobState
from ..jobs.store import ActiveRow, now
from ..protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response
from .local import WorkerLost, WorkerPool

log = logging.getLogger("wpsgate.local")


class LocalRunner:
    name = "local"
    persist = PersistOptions()
    runs_inline = True

    def __init__(self, pool: WorkerPool, spool: str, key: bytes, maxqueue: int, sync_wait: float = 30.0) -> None:
        self.pool = pool
        self.sync_wait = sync_wait
        self.spool = spool
        self.key = key
        self.maxqueue = maxqueue
        self.events: RunnerEvents | None = None
        self.queue: collections.OrderedDict[str, Job] = collections.OrderedDict()
        self.queue_event = asyncio.Event()
        self.running: dict[str, asyncio.Task] = {}
        self.dismissing: set[str] = set()
        self._task: asyncio.Task | None = None

    async def start(self, events: RunnerEvents) -> None:
        self.events = events
        self._task = asyncio.create_task(self._dispatch_loop(), name="wpsgate-dispatch")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self.running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def queued(self) -> int:
        return len(self.queue)

    async def admit(self, job_is_async: bool) -> None:
        if job_is_async:
            self._check_queue()
            return
        try:
            worker = await self.pool.acquire(self.sync_wait)
        except asyncio.TimeoutError:
            raise ServerBusy(f"all {self.pool.size} workers are busy; try again later") from None
        self.pool.release(worker)

    def _check_queue(self) -> None:
        if len(self.queue) >= self.maxqueue:
            raise ServerBusy(f"the job queue is full ({self.maxqueue} jobs waiting); try again later")

    def check_before_persist(self) -> None:
        """The queue's bound, checked again just before a job is persisted (admission ran earlier)."""
        self._check_queue()

    def submit(self, job: Job) -> None:
        self.queue[job.uuid] = job
        self.queue_event.set()

    async def run_inline(self, job: Job, wait: float) -> JobOutcome:
        try:
            worker = await self.pool.acquire(wait)
        except asyncio.TimeoutError:
            raise ServerBusy(f"all {self.pool.size} workers are busy; try again later") from None
        try:
            return await self.pool.run(worker, job.spec, None, job.timeout)
        except WorkerLost as exc:
            return lost(job.spec.uuid, job.context, str(exc))

    async def _dispatch_loop(self) -> None:
        while True:
            while not self.queue:
                self.queue_event.clear()
                await self.queue_event.wait()
            worker = await self.pool.acquire()
            if not self.queue:  # dismissed while we waited for a worker
                self.pool.release(worker)
                continue
            uuid, job = self.queue.popitem(last=False)
            self.running[uuid] = asyncio.create_task(self._run(worker, job))

    async def _run(self, worker: Any, job: Job) -> None:
        uuid, events = job.uuid, self.events
        try:
            try:  # awaited: a job that runs is recorded as started, so a restart never runs it again
                await events.started(uuid)
            except Exception:  # the store is gone for now: the job waits again at the head of the queue
                self.pool.release(worker)
                self.queue[uuid] = job
                self.queue.move_to_end(uuid, last=False)
                self.queue_event.set()
                raise

            def progress(message: str, percent: int, document: bytes | None) -> None:
                if uuid not in self.dismissing:
                    events.progress(uuid, message, percent, document)

            try:
                outcome = await self.pool.run(worker, job.spec, progress, job.timeout)
            except WorkerLost as exc:
                if uuid in self.dismissing:
                    return
                await events.fail(uuid, job.context, str(exc), job.expire)
                return
            await events.finished(uuid, JobEnd.of_outcome(outcome), job.expire, outcome.document)
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one job's bookkeeping failure stop the engine
            log.exception("job %s: bookkeeping failed", uuid)
        finally:
            self.running.pop(uuid, None)

    async def cancel(self, uuid: str) -> None:
        self.dismissing.add(uuid)
        try:
            self.queue.pop(uuid, None)
            task = self.running.get(uuid)
            if task is not None:
                self.pool.kill_job(uuid, "the job was dismissed")
                await asyncio.gather(task, return_exceptions=True)
        finally:
            self.dismissing.discard(uuid)

    async def resume(self, jobs: list[tuple[ActiveRow, ResponseContext]]) -> None:
        """Jobs that were running are lost with their workers; queued ones wait again, read from their files."""
        loop = asyncio.get_running_loop()
        for row, context in jobs:
            if row.status == JobState.STARTED.value:
                await self.events.fail(row.uuid, context, "the gateway restarted while the job was running; "
                                                          "the job was stopped", row.expire_seconds)
                continue
            try:
                loaded = await loop.run_in_executor(None, read_job_file, JobFolder(self.spool, row.uuid), self.key)
            except Exception as exc:  # verified, yet unreadable here (another version, a module gone)
                await self.events.fail(row.uuid, context, f"the queued job could not be resumed: {exc}",
                                       row.expire_seconds)
                continue
            self.queue[row.uuid] = Job(loaded.spec, loaded.timeout, row.expire_seconds)
        if self.queue:
            log.info("resumed %d queued job(s)", len(self.queue))
            self.queue_event.set()


def lost(uuid: str, context: ResponseContext, reason: str) -> JobOutcome:
    """The outcome of a synchronous job whose worker died or was killed."""
    error = ExceptionInfo("NoApplicableCode", reason)
    document = render_execute_response(context, JobStatus("failed", reason, error=error))
    return JobOutcome(uuid, "failed", reason, document=document, error=error, finished=now())
