"""The job engine: persists jobs, queues them, runs them on a backend and follows them to the end.

It owns the rules that do not depend on where a job runs: persist before
answering, a bounded FIFO queue, timeouts, dismiss, expiry and recovery after a
restart.  Database and disk work happen on one I/O thread, never on the loop.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as _dt
import json
import logging
import os
import pickle
import shutil
from typing import Any, Callable

from ..backends.local import WorkerLost, WorkerPool
from ..exceptions import ServerBusy
from ..protocol.context_codec import encode_column
from ..protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response
from .folder import JobFolder, atomic_write, is_job_id
from .jobfile import input_digests, pack, unpack, verify_inputs
from .recovery import recover_context
from .row_updates import RowUpdates
from .runner import JobOutcome, JobSpec
from .serial import SerialExecutor
from .status_reader import read_document_state
from .store import ACTIVE_STATES, ActiveRow, JobRecord, JobStore, StoreUnavailable, now

log = logging.getLogger("wpsgate.jobs")


class JobManager:
    def __init__(self, *, store: JobStore, pool: WorkerPool, spool: str, key: bytes, maxqueue: int,
                 sync_wait: float, io: SerialExecutor, cleanup_interval: float = 60.0, cluster: Any = None,
                 sync_on_scheduler: Callable[[str], bool] = lambda identifier: False,
                 on_document: Callable[[str, bytes | None], None] = lambda uuid, document: None) -> None:
        self.store = store
        # Told of every status document a local job gets (None: the job's files are gone), so that the
        # HTTP layer can serve polls from memory; called on the loop, or on the I/O thread at removal.
        self.on_document = on_document
        self.cluster = cluster
        self.sync_on_scheduler = sync_on_scheduler
        self.pool = pool
        self.spool = spool
        self.key = key
        self.maxqueue = maxqueue
        self.sync_wait = sync_wait
        self.cleanup_interval = cleanup_interval
        self.io = io
        self.rows = RowUpdates(store, io)
        # uuid -> (spec, timeout, expire), first in first out
        self.queue: collections.OrderedDict[str, tuple[JobSpec, float, float]] = collections.OrderedDict()
        self.queue_event = asyncio.Event()
        self.running: dict[str, asyncio.Task] = {}
        self.dismissing: set[str] = set()
        self._tasks: list[asyncio.Task] = []

    # --- life cycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.cluster is not None:
            await self.cluster.start()
        await self.recover()
        self._tasks.append(asyncio.create_task(self._dispatch_loop(), name="wpsgate-dispatch"))
        self._tasks.append(asyncio.create_task(self._cleanup_loop(), name="wpsgate-cleanup"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in list(self.running.values()):
            task.cancel()
        await asyncio.gather(*self._tasks, *self.running.values(), return_exceptions=True)
        if self.cluster is not None:
            await self.cluster.close()
        self.io.shutdown()

    def io_call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Ordered database and job-folder work, on the I/O thread."""
        return self.io.call(function, *args, **kwargs)

    def read(self, function: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """A database read for the job API: any worker thread (SQLite in WAL mode reads beside the writer)."""
        return asyncio.get_running_loop().run_in_executor(None, lambda: function(*args))

    # --- sync ---------------------------------------------------------------------------------------------

    async def run_sync(self, spec: JobSpec, timeout: float, expire: float, process: Any = None) -> JobOutcome:
        """Run now on an idle worker (waiting up to sync_wait for one) and record the finished job.

        In a scheduler mode, processes configured for it are submitted and awaited instead.
        """
        if self.cluster is not None and not spec.raw and self.sync_on_scheduler(spec.process_identifier):
            return await self.cluster.run_sync(spec, process, timeout, expire)
        try:
            worker = await self.pool.acquire(self.sync_wait)
        except asyncio.TimeoutError:
            raise ServerBusy(f"all {self.pool.size} workers are busy; try again later") from None
        created = now()
        try:
            outcome = await self.pool.run(worker, spec, None, timeout)
        except WorkerLost as exc:
            outcome = self._lost(spec, str(exc))
        recorded = self.io_call(self._record_sync, spec, outcome, created, timeout, expire)
        if not _keeps_files(outcome):
            # Nothing of the job stays on disk and the answer carries all of it: its row is history,
            # written (and the folder removed) while the answer is on its way.
            recorded.add_done_callback(lambda done: _log_unrecorded(spec.uuid, done))
            return outcome
        try:  # the answer points at files in the job folder: their row (and so their expiry) comes first
            await recorded
        except StoreUnavailable as exc:  # the client still gets the result it waited for
            log.error("job %s ran but could not be recorded: %s", spec.uuid, exc)
        return outcome

    def _record_sync(self, spec: JobSpec, outcome: JobOutcome, created: _dt.datetime, timeout: float,
                     expire: float) -> None:
        finished = outcome.finished or now()
        folder = JobFolder(self.spool, spec.uuid)
        if not _keeps_files(outcome):
            shutil.rmtree(folder.path, ignore_errors=True)
        self.store.insert(uuid=spec.uuid, process=spec.process_identifier, status=outcome.state, percent=100,
                          message=outcome.message, created=created, started=outcome.started or created,
                          finished=finished, expires=finished + _dt.timedelta(seconds=expire),
                          expire_seconds=expire, timeout=timeout, backend="local", is_async=False,
                          request=_request_summary(spec), outputs=json.dumps(outcome.output_files))

    # --- admission ----------------------------------------------------------------------------------------

    async def admit(self, spec: JobSpec, process: Any = None) -> None:
        """Raise ServerBusy now if the job would be refused for capacity; called before its inputs are staged.

        The same rules as ``submit`` and ``run_sync`` apply, so nothing is downloaded for a job that
        cannot run; they check again when the job is handed over (other requests may come between).
        A synchronous job on the local pool waits up to ``sync_wait`` for an idle worker, and lets it go.
        """
        if self.cluster is not None and not spec.raw and (spec.store or
                                                          self.sync_on_scheduler(spec.process_identifier)):
            self.cluster.check_capacity()
            return
        if spec.store:
            if len(self.queue) >= self.maxqueue:
                raise ServerBusy(f"the job queue is full ({self.maxqueue} jobs waiting); try again later")
            return
        try:
            worker = await self.pool.acquire(self.sync_wait)
        except asyncio.TimeoutError:
            raise ServerBusy(f"all {self.pool.size} workers are busy; try again later") from None
        self.pool.release(worker)

    # --- async --------------------------------------------------------------------------------------------

    async def submit(self, spec: JobSpec, timeout: float, expire: float, process: Any = None) -> bytes:
        """Persist the job (folder, signed job file, accepted document, row), then queue or submit it.

        Returns the document to answer with, the same the status URL serves: accepted, or failed with
        the reason when a scheduler refused the job.
        """
        if self.cluster is not None and not spec.raw:
            return await self.cluster.submit(spec, process, timeout, expire)
        if len(self.queue) >= self.maxqueue:
            raise ServerBusy(f"the job queue is full ({self.maxqueue} jobs waiting); try again later")
        accepted = render_execute_response(spec.context, JobStatus("accepted", "Process accepted, waiting in queue"))
        await self.io_call(self._persist_new, spec, accepted, timeout, expire)
        self.queue[spec.uuid] = (spec, timeout, expire)
        self.queue_event.set()
        self.on_document(spec.uuid, accepted)
        return accepted

    def _persist_new(self, spec: JobSpec, accepted: bytes, timeout: float, expire: float) -> None:
        """Job file, accepted document and row, before the client hears of the job.

        Persisted means it survives the gateway's crash, the same promise the SQLite store gives
        (WAL, synchronous=NORMAL: commits reach the operating system, not the disk).  So these
        writes are atomic but not fsynced; after a power loss, a job whose file did not reach the
        disk fails on recovery with the reason, instead of every accept paying for two fsyncs.
        """
        folder = JobFolder(self.spool, spec.uuid).create()
        job = pickle.dumps({"spec": spec, "timeout": timeout}, protocol=pickle.HIGHEST_PROTOCOL)
        digests = input_digests(folder.path, spec.inputs)
        atomic_write(folder.job_file, pack(self.key, spec.uuid, spec.context, job, inputs=digests), durable=False)
        folder.write_status(accepted, durable=False)
        self.store.insert(uuid=spec.uuid, process=spec.process_identifier, status="accepted", percent=0,
                          message="waiting in queue", created=now(), expire_seconds=expire, timeout=timeout,
                          backend="local", is_async=True, request=_request_summary(spec), outputs="[]",
                          context=encode_column(spec.context))

    async def _dispatch_loop(self) -> None:
        while True:
            while not self.queue:
                self.queue_event.clear()
                await self.queue_event.wait()
            worker = await self.pool.acquire()
            if not self.queue:  # dismissed while we waited for a worker
                self.pool.release(worker)
                continue
            uuid, (spec, timeout, expire) = self.queue.popitem(last=False)
            self.running[uuid] = asyncio.create_task(self._run_async(worker, spec, timeout, expire))

    async def _run_async(self, worker: Any, spec: JobSpec, timeout: float, expire: float) -> None:
        uuid = spec.uuid
        try:
            # Awaited: a job that runs is recorded as started, so a restart never runs it again.
            try:
                await self.rows.update(uuid, status="started", started=now(), message="started")
            except Exception:  # the store is gone for now: the job waits again at the head of the queue
                self.pool.release(worker)
                self.queue[uuid] = (spec, timeout, expire)
                self.queue.move_to_end(uuid, last=False)
                self.queue_event.set()
                raise
            try:
                outcome = await self.pool.run(worker, spec, lambda m, p, d: self._on_progress(uuid, m, p, d),
                                              timeout)
            except WorkerLost as exc:
                if uuid in self.dismissing:
                    return
                outcome = self._lost(spec, str(exc))
                await self.io_call(JobFolder(self.spool, uuid).write_status, outcome.document, True)
            if outcome.document is not None:  # as the worker (or the line above) wrote it
                self.on_document(uuid, outcome.document)
            await self.rows.update(uuid, **self._final_values(outcome, expire))
        except asyncio.CancelledError:
            raise
        except Exception:  # never let one job's bookkeeping failure stop the engine
            log.exception("job %s: bookkeeping failed", uuid)
        finally:
            self.running.pop(uuid, None)

    def _lost(self, spec: JobSpec, reason: str) -> JobOutcome:
        error = ExceptionInfo("NoApplicableCode", reason)
        document = render_execute_response(spec.context, JobStatus("failed", reason, error=error))
        return JobOutcome(spec.uuid, "failed", reason, document=document, error=error, finished=now())

    def _on_progress(self, uuid: str, message: str, percent: int, document: bytes | None = None) -> None:
        if document is not None and uuid not in self.dismissing:
            self.on_document(uuid, document)
        self.rows.update(uuid, status="started", message=message[:2000], percent=percent)

    @staticmethod
    def _final_values(outcome: JobOutcome, expire: float) -> dict[str, Any]:
        """The row of a finished job; a failed job keeps the percent it had reached."""
        finished = outcome.finished or now()
        values = dict(status=outcome.state, message=outcome.message[:2000], finished=finished,
                      expires=finished + _dt.timedelta(seconds=expire), outputs=json.dumps(outcome.output_files))
        if outcome.state == "succeeded":
            values["percent"] = 100
        return values

    def current(self, uuid: str) -> JobRecord | None:
        """The job's row, corrected by its status document while the row has not caught up yet.

        The document is the truth of one job and is written first (by the worker or the node);
        the row follows a moment later.  A client that has just read a final document must not
        hear from the JSON API that the job is still running.  Synchronous: for ``read``.
        """
        record = self.store.get(uuid)
        if record is None or record.status not in ACTIVE_STATES or not record.is_async:
            return record
        document = read_document_state(JobFolder(self.spool, uuid).status)
        if document is None or not document.final:
            return record
        percent = 100 if document.state == "succeeded" else record.percent
        return dataclasses.replace(record, status=document.state, message=document.message or record.message,
                                   percent=percent)

    # --- dismiss, expiry, recovery ------------------------------------------------------------------------

    async def dismiss(self, uuid: str) -> JobRecord | None:
        """Remove a queued job, kill a running one, and delete the job's files; None if unknown."""
        record = await self.io_call(self.store.get, uuid)
        if record is None:
            return None
        if record.status in ("dismissed", "expired"):
            return record
        self.dismissing.add(uuid)
        try:
            self.queue.pop(uuid, None)
            if self.cluster is not None:
                await self.cluster.cancel(uuid)
            task = self.running.get(uuid)
            if task is not None:
                self.pool.kill_job(uuid, "the job was dismissed")
                await asyncio.gather(task, return_exceptions=True)
            await self.io_call(self._mark_removed, uuid, "dismissed", "dismissed by request")
        finally:
            self.dismissing.discard(uuid)
        return await self.io_call(self.store.get, uuid)

    def _mark_removed(self, uuid: str, state: str, message: str) -> None:
        self.on_document(uuid, None)  # forgotten before the files go, so no poll is answered from memory after
        shutil.rmtree(JobFolder(self.spool, uuid).path, ignore_errors=True)
        self.store.update(uuid, status=state, message=message, finished=now())

    async def cleanup_expired(self) -> int:
        """Delete the folders of jobs past their expiry; returns how many were expired."""
        expired = await self.io_call(self.store.expired, now())
        for record in expired:
            await self.io_call(self._mark_removed, record.uuid, "expired",
                           f"expired; the results were removed ({record.status} before)")
        return len(expired)

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.cleanup_expired()
            except Exception:
                log.exception("expiry cleanup failed")

    async def recover(self) -> None:
        """After a restart: fail jobs that were running on the local pool, queue again those that waited,
        and follow again every job left on the scheduler.  No row can stop the start: one whose columns
        or request context cannot be read fails its job with the reason (see jobs.recovery)."""
        if self.cluster is not None:
            await self.cluster.recover(await self.io_call(self.store.active, self.cluster.name))
        for row in await self.io_call(self.store.active, "local"):
            try:
                await self._recover_one(row)
            except StoreUnavailable:
                raise
            except Exception as exc:  # whatever a row holds, the gateway starts
                log.exception("job %s could not be recovered", row.uuid)
                await self.io_call(self._fail_record, row, f"the job could not be recovered: {exc}", None)
        if self.queue:
            log.info("resumed %d queued job(s)", len(self.queue))
            self.queue_event.set()

    async def _recover_one(self, row: ActiveRow) -> None:
        recovered = await self.io_call(recover_context, row, self.spool, self.key)
        if recovered.problem:
            await self.io_call(self._fail_record, row, recovered.problem, recovered.context)
            return
        if recovered.migrated:
            await self.io_call(self.store.update, row.uuid, True, context=encode_column(recovered.context))
        if row.status == "started":
            await self.io_call(self._fail_record, row, "the gateway restarted while the job was running; "
                                                       "the job was stopped", recovered.context)
            return
        try:
            spec, timeout = await self.io_call(self._load_job_file, row.uuid)
        except Exception as exc:  # verified, yet unreadable here (another version, a module gone)
            await self.io_call(self._fail_record, row, f"the queued job could not be resumed: {exc}",
                               recovered.context)
            return
        self.queue[row.uuid] = (spec, timeout, row.expire_seconds)

    def _load_job_file(self, uuid: str) -> tuple[JobSpec, float]:
        """The queued job from its signed file, its staged inputs checked against the signed digests."""
        folder = JobFolder(self.spool, uuid)
        with open(folder.job_file, "rb") as handle:
            record = unpack(self.key, uuid, handle.read())
        verify_inputs(folder.path, record["inputs"])
        data = pickle.loads(record["job"])
        return data["spec"], data["timeout"]

    def _fail_record(self, row: ActiveRow, reason: str, context: ResponseContext | None) -> None:
        """Fail a recovered job: its row, and its status document when its context is known."""
        if context is not None and is_job_id(row.uuid) and os.path.isdir(JobFolder(self.spool, row.uuid).path):
            document = render_execute_response(context, JobStatus("failed", reason,
                                                                  error=ExceptionInfo("NoApplicableCode", reason)))
            JobFolder(self.spool, row.uuid).write_status(document, durable=True)
            self.on_document(row.uuid, document)
        finished = now()
        self.store.update(row.uuid, True, status="failed", message=reason[:2000], finished=finished,
                          expires=finished + _dt.timedelta(seconds=row.expire_seconds))

    @property
    def queued(self) -> int:
        return len(self.queue)


def _keeps_files(outcome: JobOutcome) -> bool:
    """Whether a finished sync job's folder stays: outputs by reference, a raw file, or a failure's log."""
    return bool(outcome.output_files) or outcome.state == "failed" or bool(outcome.raw and outcome.raw.path)


def _log_unrecorded(uuid: str, done: "asyncio.Future[None]") -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("job %s ran but could not be recorded: %s", uuid, done.exception())


def _request_summary(spec: JobSpec) -> str:
    request = spec.request
    return json.dumps({
        "identifier": request.identifier,
        "inputs": [i.identifier for i in request.inputs],
        "outputs": [{"identifier": o.identifier, "as_reference": o.as_reference} for o in spec.outputs],
        "store": request.store_execute_response, "status": request.status, "lineage": request.lineage,
    })
