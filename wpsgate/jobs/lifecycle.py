"""One job lifecycle for every runner: persist → queued → started → progress → succeeded | failed |
dismissed → expired, each transition written once.

Runners (the local pool, a batch scheduler) decide where a job runs and report what happens to
it through the ``RunnerEvents`` methods of ``Lifecycle``; the lifecycle writes the job table, the
job folder's documents and the in-memory copy of the latest document, and tells the observers
(``jobs.events``).  Database and disk work run on the one I/O thread, in order, never on the loop.
"""
from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..protocol.context_codec import column_from_data, context_to_data, encode_column
from ..protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response
from . import events
from .folder import FinalRecord, JobFolder, is_job_id
from .jobfile import write_job_file
from .recovery import recover_context
from .row_updates import RowUpdates
from .runner import JobOutcome, JobSpec
from .serial import SerialExecutor
from .states import JobState
from .store import ActiveRow, JobStore, StoreUnavailable, now
from .user_limits import UserJobCounts

log = logging.getLogger("wpsgate.jobs")


@dataclass(frozen=True)
class PersistOptions:
    """How a runner wants its jobs persisted.

    ``process``: the job file carries the process (a scheduler's node has none loaded);
    ``durable``: fsync the job file and the accepted document (the node reads them over a
    shared filesystem after the gateway may have crashed); ``pythonpath``: signed into the job
    file for the joblauncher."""

    process: bool = False
    durable: bool = False
    pythonpath: tuple[str, ...] = ()
    accepted_message: str = "Process accepted, waiting in queue"
    row_message: str = "waiting in queue"
    # every later document of the job reaches the lifecycle (a local worker's), so the HTTP layer may
    # serve the latest from memory; not so for a scheduler's node, which writes them into the folder
    documents_in_memory: bool = True


@dataclass
class Job:
    """One job as the engine hands it to a runner."""

    spec: JobSpec
    timeout: float
    expire: float
    process: Any = None
    is_async: bool = True

    @property
    def uuid(self) -> str:
        return self.spec.uuid

    @property
    def context(self) -> ResponseContext:
        return self.spec.context


@dataclass
class JobEnd:
    """How a job ended, as the row records it."""

    state: JobState
    message: str
    started: _dt.datetime | None = None
    finished: _dt.datetime | None = None
    outputs: list[str] = field(default_factory=list)
    percent: int | None = None  # None: a failed job keeps the percent it had reached
    cpu_seconds: float | None = None  # what the job cost (jobs.usage), kept in the row beyond its folder's expiry
    peak_memory_mb: float | None = None

    @classmethod
    def of_outcome(cls, outcome: JobOutcome) -> "JobEnd":
        return cls(JobState(outcome.state), outcome.message, outcome.started, outcome.finished,
                   list(outcome.output_files), cpu_seconds=outcome.cpu_seconds,
                   peak_memory_mb=outcome.peak_memory_mb)

    @classmethod
    def of_record(cls, state: str, message: str, record: FinalRecord | None) -> "JobEnd":
        return cls(JobState(state), message, _parse_time(record.started if record else None), None,
                   list(record.outputs) if record else [], cpu_seconds=_figure(record and record.cpu_seconds),
                   peak_memory_mb=_figure(record and record.peak_memory_mb))


class RunnerEvents(Protocol):
    """What a runner reports about its jobs (implemented by ``Lifecycle``); all called on the loop."""

    def submitted(self, uuid: str, scheduler_id: str | None) -> "asyncio.Future[None]": ...

    def submitted_many(self, ids: dict[str, str]) -> "asyncio.Future[None]": ...

    def scheduler_call(self, runner: str, operation: str, duration: float, ok: bool) -> None: ...

    def started(self, uuid: str, at: _dt.datetime | None = None) -> "asyncio.Future[None]": ...

    def progress(self, uuid: str, message: str, percent: int, document: bytes | None = None) -> None: ...

    async def finished(self, uuid: str, end: JobEnd, expire: float, document: bytes | None = None) -> None: ...

    async def fail(self, uuid: str, context: ResponseContext | None, reason: str, expire: float) -> JobOutcome: ...


class Lifecycle:
    """The transitions of every job, written once; runners call them, the engine starts and ends them."""

    def __init__(self, *, store: JobStore, spool: str, key: bytes, io: SerialExecutor,
                 on_document: Callable[[str, bytes | None], None] = lambda uuid, document: None) -> None:
        self.store = store
        self.spool = spool
        self.key = key
        self.io = io
        self.rows = RowUpdates(store, io)
        # Told of every status document the gateway knows of (None: the job's files are gone), so that
        # the HTTP layer can serve polls from memory; called on the loop, or on the I/O thread at removal.
        self.on_document = on_document
        self.observers = events.Observers()
        self.runner_of: dict[str, str] = {}  # uuid -> runner name, for the events of unfinished jobs
        self.process_of: dict[str, str] = {}  # uuid -> process identifier, likewise
        # each user's queued and running jobs, for the per-user limits (jobs.user_limits): kept here, where
        # every transition passes, so that the accept path never counts rows
        self.user_jobs = UserJobCounts()
        self._waiters: dict[str, asyncio.Future] = {}

    def io_call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        return self.io.call(function, *args, **kwargs)

    def _emit(self, event: events.JobEvent) -> None:
        if not event.process and event.uuid in self.process_of:
            event = dataclasses.replace(event, process=self.process_of[event.uuid])
        self.observers.emit(event)

    # --- accepted ---------------------------------------------------------------------------------------------

    async def accept(self, job: Job, runner: str, options: PersistOptions) -> bytes:
        """Persist the job (folder, signed job file, accepted document, row) and return that document.

        Persisted means it survives the gateway's crash, the same promise the SQLite store gives
        (WAL, synchronous=NORMAL: commits reach the operating system, not the disk).  So on the
        local pool these writes are atomic but not fsynced; after a power loss, a job whose file
        did not reach the disk fails on recovery with the reason, instead of every accept paying
        for two fsyncs.  A scheduler's runner asks for ``durable`` writes."""
        accepted = await self.io_call(self.persist_now, job, runner, options)
        self.user_jobs.add(job.uuid, job.spec.owner)  # already counted when the engine reserved its place
        self.runner_of[job.uuid] = runner
        self.process_of[job.uuid] = job.spec.process_identifier
        if options.documents_in_memory:
            self.on_document(job.uuid, accepted)
        self._emit(events.Accepted(job.uuid, runner))
        return accepted

    def persist_now(self, job: Job, runner: str, options: PersistOptions) -> bytes:
        """``accept``'s work, synchronous (on the I/O thread); returns the accepted document."""
        spec = job.spec
        accepted = render_execute_response(job.context, JobStatus("accepted", options.accepted_message))
        folder = JobFolder(self.spool, spec.uuid).create()
        context = context_to_data(spec.context)
        write_job_file(folder, self.key, spec, job.timeout, process=job.process if options.process else None,
                       pythonpath=options.pythonpath, durable=options.durable, context_data=context)
        folder.write_status(accepted, durable=options.durable)
        self.store.insert(uuid=spec.uuid, process=spec.process_identifier, status=JobState.ACCEPTED.value,
                          percent=0, message=options.row_message, created=now(), expire_seconds=job.expire,
                          timeout=job.timeout, backend=runner, is_async=job.is_async, request=request_summary(spec),
                          outputs="[]", context=column_from_data(context), owner=spec.owner)
        return accepted

    # --- what runners report ----------------------------------------------------------------------------------

    def submitted(self, uuid: str, scheduler_id: str | None) -> "asyncio.Future[None]":
        """The scheduler took the job under ``scheduler_id``: in its folder and row before anything else."""
        done = self.io_call(self._record_submitted, uuid, scheduler_id)
        self._emit(events.Submitted(uuid, self.runner_of.get(uuid, ""), scheduler_id=scheduler_id))
        return done

    def submitted_many(self, ids: dict[str, str]) -> "asyncio.Future[None]":
        """A submission round's jobs and their scheduler ids: one I/O call and one transaction for all
        (the thread that records them also persists the jobs being accepted meanwhile)."""
        done = self.io_call(self._record_submitted_many, dict(ids))
        for uuid, scheduler_id in ids.items():
            self._emit(events.Submitted(uuid, self.runner_of.get(uuid, ""), scheduler_id=scheduler_id))
        return done

    def scheduler_call(self, runner: str, operation: str, duration: float, ok: bool) -> None:
        """A submission or poll the runner made (for the metrics; nothing is recorded)."""
        self._emit(events.SchedulerCall("", runner, operation=operation, duration=duration, ok=ok))

    def _record_submitted_many(self, ids: dict[str, str]) -> None:
        for uuid, scheduler_id in ids.items():
            try:
                JobFolder(self.spool, uuid).write_scheduler_id(scheduler_id)
            except OSError as exc:  # its folder is gone (dismissed meanwhile): the others are still recorded
                log.warning("job %s: its scheduler id %s could not be written: %s", uuid, scheduler_id, exc)
        self.store.update_active_many({uuid: {"backend_id": scheduler_id, "message": "queued in the scheduler"}
                                       for uuid, scheduler_id in ids.items()})

    def _record_submitted(self, uuid: str, scheduler_id: str | None) -> None:
        if scheduler_id is None:
            return
        JobFolder(self.spool, uuid).write_scheduler_id(scheduler_id)
        self.store.update(uuid, True, backend_id=scheduler_id, message="queued in the scheduler")

    def started(self, uuid: str, at: _dt.datetime | None = None) -> "asyncio.Future[None]":
        """The job runs: the row says so (awaited by the local pool, so that a restart never runs it again)."""
        done = self.rows.update(uuid, status=JobState.STARTED.value, started=at or now(), message="started")
        self.user_jobs.started(uuid)
        self._emit(events.Started(uuid, self.runner_of.get(uuid, "")))
        return done

    def progress(self, uuid: str, message: str, percent: int, document: bytes | None = None) -> None:
        """A running job's message and percent (``started`` is written once, by ``started``)."""
        if document is not None:
            self.on_document(uuid, document)
        self.rows.update(uuid, status=JobState.STARTED.value, message=message[:2000], percent=percent)
        self._emit(events.Progress(uuid, self.runner_of.get(uuid, ""), percent=percent, message=message))

    async def finished(self, uuid: str, end: JobEnd, expire: float, document: bytes | None = None) -> None:
        """The job ended by itself: its row (its final document is already in its folder)."""
        if document is not None:
            self.on_document(uuid, document)
        finished = end.finished or now()
        values: dict[str, Any] = dict(status=end.state.value, message=end.message[:2000], finished=finished,
                                      expires=finished + _dt.timedelta(seconds=expire),
                                      outputs=json.dumps(end.outputs))
        if end.started is not None:
            values["started"] = end.started
        if end.cpu_seconds is not None:
            values["cpu_seconds"] = end.cpu_seconds
        if end.peak_memory_mb is not None:
            values["peak_memory_mb"] = end.peak_memory_mb
        if end.state is JobState.SUCCEEDED:
            values["percent"] = 100
        elif end.percent is not None:
            values["percent"] = end.percent
        try:
            await self.rows.update(uuid, **values)
        finally:
            self._ended(uuid, events.Succeeded(uuid, self.runner_of.get(uuid, "")) if end.state is JobState.SUCCEEDED
                        else events.Failed(uuid, self.runner_of.get(uuid, ""), reason=end.message))

    async def fail(self, uuid: str, context: ResponseContext | None, reason: str, expire: float) -> JobOutcome:
        """Fail the job with ``reason``: its status document (when its context is known) and its row."""
        try:
            return await self.io_call(self.fail_now, uuid, context, reason, expire)
        finally:
            self._ended(uuid, events.Failed(uuid, self.runner_of.get(uuid, ""), reason=reason))

    def fail_now(self, uuid: str, context: ResponseContext | None, reason: str, expire: float) -> JobOutcome:
        """``fail``'s work, for code already on the I/O thread (no event, no waiter)."""
        error = ExceptionInfo("NoApplicableCode", reason)
        document = None
        if context is not None and is_job_id(uuid):
            folder = JobFolder(self.spool, uuid)
            if os.path.isdir(folder.path):
                document = render_execute_response(context, JobStatus("failed", reason, error=error))
                folder.write_status(document, durable=True)
                self.on_document(uuid, document)
        finished = now()
        self.store.update(uuid, True, status=JobState.FAILED.value, message=reason[:2000], finished=finished,
                          expires=finished + _dt.timedelta(seconds=expire))
        return JobOutcome(uuid, JobState.FAILED.value, reason, document=document, error=error, finished=finished)

    def _ended(self, uuid: str, event: events.JobEvent) -> None:
        self.runner_of.pop(uuid, None)
        self.user_jobs.ended(uuid)
        waiter = self._waiters.pop(uuid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._emit(event)
        self.process_of.pop(uuid, None)

    def ending(self, uuid: str) -> "asyncio.Future[None]":
        """A future resolved when the job ends (``finished``, ``fail`` or ``dismissed``); ask before handing
        the job to its runner."""
        return self._waiters.setdefault(uuid, asyncio.get_running_loop().create_future())

    # --- synchronous jobs that ran at once ------------------------------------------------------------------

    def record_sync(self, spec: JobSpec, outcome: JobOutcome, created: _dt.datetime, timeout: float,
                    expire: float, runner: str, keep_files: bool) -> None:
        """The row of a synchronous job that ran without being persisted first (on the I/O thread)."""
        finished = outcome.finished or now()
        if not keep_files:
            shutil.rmtree(JobFolder(self.spool, spec.uuid).path, ignore_errors=True)
        self.store.insert(uuid=spec.uuid, process=spec.process_identifier, status=outcome.state, percent=100,
                          message=outcome.message, created=created, started=outcome.started or created,
                          finished=finished, expires=finished + _dt.timedelta(seconds=expire),
                          expire_seconds=expire, timeout=timeout, backend=runner, is_async=False,
                          request=request_summary(spec), outputs=json.dumps(outcome.output_files),
                          owner=spec.owner, cpu_seconds=_figure(outcome.cpu_seconds),
                          peak_memory_mb=_figure(outcome.peak_memory_mb))

    # --- dismissed and expired --------------------------------------------------------------------------------

    async def dismissed(self, uuid: str) -> None:
        await self.io_call(self._remove, uuid, JobState.DISMISSED, "dismissed by request")
        self._ended(uuid, events.Dismissed(uuid, self.runner_of.get(uuid, "")))

    async def expire_due(self) -> int:
        """Remove the files of jobs past their expiry; returns how many expired."""
        expired = await self.io_call(self.store.expired, now())
        for record in expired:
            await self.io_call(self._remove, record.uuid, JobState.EXPIRED,
                               f"expired; the results were removed ({record.status} before)")
            self._emit(events.Expired(record.uuid, record.backend, process=record.process))
        return len(expired)

    def _remove(self, uuid: str, state: JobState, message: str) -> None:
        self.on_document(uuid, None)  # forgotten before the files go, so no poll is answered from memory after
        shutil.rmtree(JobFolder(self.spool, uuid).path, ignore_errors=True)
        if state is JobState.EXPIRED:  # the job ended long ago: its end stays what it was (usage reads it)
            self.store.update(uuid, status=state.value, message=message)
        else:
            self.store.update(uuid, status=state.value, message=message, finished=now())

    # --- recovery -----------------------------------------------------------------------------------------------

    async def recover(self, runner: "Any") -> None:
        """After a restart, hand each unfinished job of ``runner`` back to it with its context.

        No row can stop the start: one whose columns or request context cannot be read fails its
        job with the reason (see jobs.recovery); so does one the runner cannot resume."""
        rows = await self.io_call(self.store.active, runner.name)
        resumable: list[tuple[ActiveRow, ResponseContext]] = []
        for row in rows:
            try:
                recovered = await self.io_call(recover_context, row, self.spool, self.key)
                if recovered.problem:
                    await self.fail(row.uuid, recovered.context, recovered.problem, row.expire_seconds)
                    continue
                if recovered.migrated:
                    await self.io_call(self.store.update, row.uuid, True, context=encode_column(recovered.context))
                resumable.append((row, recovered.context))
                self.runner_of[row.uuid] = runner.name
                self.process_of[row.uuid] = recovered.context.process_identifier
                self.user_jobs.add(row.uuid, row.owner, running=row.status == JobState.STARTED.value)
            except StoreUnavailable:
                raise
            except Exception as exc:  # whatever a row holds, the gateway starts
                log.exception("job %s could not be recovered", row.uuid)
                await self.fail(row.uuid, None, f"the job could not be recovered: {exc}", row.expire_seconds)
        await runner.resume(resumable)


def request_summary(spec: JobSpec) -> str:
    """What the row keeps of the request (never input values: they may hold secrets)."""
    request = spec.request
    return json.dumps({
        "identifier": request.identifier,
        "inputs": [i.identifier for i in request.inputs],
        "outputs": [{"identifier": o.identifier, "as_reference": o.as_reference} for o in spec.outputs],
        "store": request.store_execute_response, "status": request.status, "lineage": request.lineage,
    })


def _figure(value: Any) -> float | None:
    """A usage figure fit for the row (the final record is written by the job: nothing in it is trusted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e15:
        return None
    return float(value)


def _parse_time(value: Any) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
