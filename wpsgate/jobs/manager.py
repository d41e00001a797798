"""The job engine: the one entry the front doors use to run jobs, whatever runs them.

Its public API (used by the WPS service and the JSON job API; keep it stable):
``admit(spec, process)``, ``submit(spec, timeout, expire, process) -> bytes``,
``run_sync(spec, timeout, expire, process) -> JobOutcome``, ``current(uuid)``, ``dismiss(uuid)``,
``read(function, *args)`` with ``store.list``/``store.get``/``store.count``, ``cleanup_expired()``,
``observers`` (every lifecycle transition, see jobs.events), ``start()`` and ``close()``.

It picks a runner for each job (synchronous jobs on the inline runner unless configured for the
scheduler, raw outputs included; stored jobs on the async runner) and leaves the rest to the
lifecycle (jobs.lifecycle), which every runner reports to: the engine has no backend branches.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import weakref
from typing import Any, Callable

from ..protocol.status import parse_status_document, read_document_state
from .folder import JobFolder
from .lifecycle import Job, Lifecycle
from .runner import JobOutcome, JobSpec, RawResult
from .runners import Runner
from .serial import SerialExecutor
from .states import ACTIVE_STATES, JobState
from .store import JobRecord, JobStore, StoreUnavailable, now
from .user_limits import LimitPolicy, UserLimits

log = logging.getLogger("wpsgate.jobs")

SYNC_SCHEDULING_SLACK = 120.0  # seconds a synchronous job on a scheduler may wait in its queue beyond its timeout


class JobManager:
    def __init__(self, *, store: JobStore, spool: str, key: bytes, io: SerialExecutor, local: Runner,
                 scheduler: Runner | None = None, sync_wait: float = 30.0, cleanup_interval: float = 60.0,
                 sync_on_scheduler: Callable[[str], bool] = lambda identifier: False,
                 on_document: Callable[[str, bytes | None], None] = lambda uuid, document: None,
                 limits: LimitPolicy | None = None) -> None:
        """``local`` runs synchronous jobs at once (and stored ones when there is no ``scheduler``);
        ``scheduler``, when given, runs every stored job and the synchronous ones ``sync_on_scheduler``
        names.  ``limits``: the per-user limits (jobs.user_limits); a refusal is a ``UserLimitReached``
        (the front door, which knows the client, writes it to the audit log)."""
        self.store = store
        self.spool = spool
        self.io = io
        self.sync_wait = sync_wait
        self.cleanup_interval = cleanup_interval
        self.sync_on_scheduler = sync_on_scheduler
        self.lifecycle = Lifecycle(store=store, spool=spool, key=key, io=io, on_document=on_document)
        self.observers = self.lifecycle.observers
        self.user_limits = UserLimits(limits or LimitPolicy(), self.lifecycle.user_jobs)
        # jobs whose request already counted against their user's request rate at admission (by uuid; an
        # entry goes with its spec, so a job refused between admission and hand-over leaves nothing behind)
        self._rate_taken: "weakref.WeakValueDictionary[str, JobSpec]" = weakref.WeakValueDictionary()
        self.local = local
        self.async_runner = scheduler or local
        self.scheduler = scheduler
        self.runners: dict[str, Runner] = {}
        self._tasks: list[asyncio.Task] = []

    # --- life cycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every runner and hand each its unfinished jobs from before a restart."""
        for runner in dict.fromkeys(r for r in (self.scheduler, self.local) if r is not None):
            await runner.start(self.lifecycle)
            self.runners[runner.name] = runner
            await self.lifecycle.recover(runner)
        self._tasks.append(asyncio.create_task(self._cleanup_loop(), name="wpsgate-cleanup"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for runner in self.runners.values():
            await runner.close()
        self.io.shutdown()

    def io_call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> "asyncio.Future[Any]":
        """Ordered database and job-folder work, on the I/O thread."""
        return self.io.call(function, *args, **kwargs)

    def read(self, function: Callable[..., Any], *args: Any) -> "asyncio.Future[Any]":
        """A database read for the job API: any worker thread (SQLite in WAL mode reads beside the writer)."""
        return asyncio.get_running_loop().run_in_executor(None, lambda: function(*args))

    def _runner_for(self, spec: JobSpec, is_async: bool) -> Runner:
        if is_async:
            return self.async_runner
        if self.scheduler is not None and self.sync_on_scheduler(spec.process_identifier):
            return self.scheduler
        return self.local

    # --- admission ----------------------------------------------------------------------------------------

    async def admit(self, spec: JobSpec, process: Any = None) -> None:
        """Raise ServerBusy now if the job would be refused for capacity; called before its inputs are staged.

        The same rules apply again when the job is handed over (other requests may come between).
        A synchronous job on the local pool waits up to ``sync_wait`` for an idle worker, and lets it go.
        The owner's limits come first: they are arithmetic, and a user at a limit must not hold a worker.
        """
        self._check_user(spec)
        self._rate_taken[spec.uuid] = spec
        await self._runner_for(spec, spec.store).admit(spec.store)

    def _check_user(self, spec: JobSpec) -> None:
        """The owner's limits (the request rate once per Execute, at its first check); raises UserLimitReached."""
        self.user_limits.check(spec.owner, take_rate=self._rate_taken.get(spec.uuid) is not spec)

    def _reserve(self, spec: JobSpec, running: bool = False) -> None:
        """Check the owner's limits as the job is handed over and count it at once (before any await, so
        that concurrent requests of one user cannot pass the same check together)."""
        self._check_user(spec)
        self._rate_taken.pop(spec.uuid, None)
        self.lifecycle.user_jobs.add(spec.uuid, spec.owner, running=running)

    # --- async --------------------------------------------------------------------------------------------

    async def submit(self, spec: JobSpec, timeout: float, expire: float, process: Any = None) -> bytes:
        """Persist the job (folder, signed job file, accepted document, row) and hand it to its runner.

        Returns the ProcessAccepted document to answer with, the one the status URL serves; the
        runner's work (a scheduler's submission included) follows without the client waiting.
        """
        runner = self._runner_for(spec, True)
        runner.check_before_persist()
        self._reserve(spec)
        spec.store = True
        job = Job(spec, self.user_limits.walltime(spec.owner, timeout), expire, process)
        try:
            accepted = await self.lifecycle.accept(job, runner.name, runner.persist)
        except BaseException:
            self.lifecycle.user_jobs.ended(spec.uuid)
            raise
        runner.submit(job)
        return accepted

    # --- sync ---------------------------------------------------------------------------------------------

    async def run_sync(self, spec: JobSpec, timeout: float, expire: float, process: Any = None) -> JobOutcome:
        """Run now and record the finished job: at once on an inline runner (waiting up to sync_wait for
        room), else persisted, submitted and awaited (bounded by the timeout plus scheduling slack)."""
        runner = self._runner_for(spec, False)
        timeout = self.user_limits.walltime(spec.owner, timeout)
        job = Job(spec, timeout, expire, process, is_async=False)
        if runner.runs_inline:
            self._reserve(spec, running=True)
            try:
                return await self._run_inline(runner, job)
            finally:
                self.lifecycle.user_jobs.ended(spec.uuid)
        runner.check_before_persist()
        self._reserve(spec)
        spec.store = True
        ending = self.lifecycle.ending(spec.uuid)
        try:
            await self.lifecycle.accept(job, runner.name, runner.persist)
        except BaseException:
            self.lifecycle.user_jobs.ended(spec.uuid)
            raise
        runner.submit(job)
        try:
            await asyncio.wait_for(asyncio.shield(ending), timeout + SYNC_SCHEDULING_SLACK)
        except asyncio.TimeoutError:
            await runner.cancel(spec.uuid)
            return await self.lifecycle.fail(spec.uuid, spec.context, f"the job did not finish within {timeout:g} s",
                                             0.0)
        folder = JobFolder(self.spool, spec.uuid)
        document = await self.io_call(_read_bytes, folder.status)
        state = parse_status_document(document) if document else None
        outcome = JobOutcome(spec.uuid, state.state if state else "failed", state.message if state else "",
                             document=document)
        if spec.raw and outcome.state == JobState.SUCCEEDED.value:
            outcome.raw = await self.io_call(_raw_result, folder)
            if outcome.raw is None:
                outcome.state, outcome.message = JobState.FAILED.value, "the job left no raw output in its folder"
        return outcome

    async def _run_inline(self, runner: Runner, job: Job) -> JobOutcome:
        spec = job.spec
        created = now()
        outcome = await runner.run_inline(job, self.sync_wait)
        keep = _keeps_files(outcome)
        recorded = self.io_call(self.lifecycle.record_sync, spec, outcome, created, job.timeout, job.expire,
                                runner.name, keep)
        if not keep:
            # Nothing of the job stays on disk and the answer carries all of it: its row is history,
            # written (and the folder removed) while the answer is on its way.
            recorded.add_done_callback(lambda done: _log_unrecorded(spec.uuid, done))
            return outcome
        try:  # the answer points at files in the job folder: their row (and so their expiry) comes first
            await recorded
        except StoreUnavailable as exc:  # the client still gets the result it waited for
            log.error("job %s ran but could not be recorded: %s", spec.uuid, exc)
        return outcome

    # --- the job view -------------------------------------------------------------------------------------

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
        percent = 100 if document.state == JobState.SUCCEEDED.value else record.percent
        return dataclasses.replace(record, status=document.state, message=document.message or record.message,
                                   percent=percent)

    # --- dismiss and expiry -------------------------------------------------------------------------------

    async def dismiss(self, uuid: str) -> JobRecord | None:
        """Stop the job wherever it is (queued, submitted, running) and delete its files; None if unknown."""
        record = await self.io_call(self.store.get, uuid)
        if record is None:
            return None
        if record.status in (JobState.DISMISSED.value, JobState.EXPIRED.value):
            return record
        runner = self.runners.get(record.backend)
        if runner is not None and record.status in ACTIVE_STATES:
            await runner.cancel(uuid)
        await self.lifecycle.dismissed(uuid)
        return await self.io_call(self.store.get, uuid)

    async def cleanup_expired(self) -> int:
        """Delete the folders of jobs past their expiry; returns how many were expired."""
        return await self.lifecycle.expire_due()

    async def _cleanup_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cleanup_interval)
            try:
                await self.cleanup_expired()
            except Exception:
                log.exception("expiry cleanup failed")

    @property
    def queued(self) -> int:
        return getattr(self.local, "queued", 0)


def _keeps_files(outcome: JobOutcome) -> bool:
    """Whether a finished sync job's folder stays: outputs by reference, a raw file, or a failure's log."""
    return bool(outcome.output_files) or outcome.state == "failed" or bool(outcome.raw and outcome.raw.path)


def _log_unrecorded(uuid: str, done: "asyncio.Future[None]") -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("job %s ran but could not be recorded: %s", uuid, done.exception())


def _raw_result(folder: JobFolder) -> RawResult | None:
    """The RawDataOutput a persisted job left, as its final record names it (a regular file only)."""
    record = folder.read_final()
    path = folder.raw_output(record) if record is not None else None
    if path is None or not os.path.isfile(path) or os.path.islink(path):
        return None
    return RawResult(record.raw_mime_type or "application/octet-stream", path=path)


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None
