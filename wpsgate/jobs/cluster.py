"""Jobs on a batch scheduler: submit signed job files, follow every job until it ends, tell the truth.

The gateway writes the job folder and the signed job file, submits it (bounded
retries) and persists the scheduler's id before answering.  A periodic, batched
reconciliation reads each unfinished job's status document and asks the
scheduler about all of them in one call: progress reaches the job table, and a
job the scheduler says is over without a final document (walltime, memory,
cancelled, node failure, refused job file) becomes ProcessFailed with the reason.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..backends.base import ClusterBackend, ClusterJob, SchedulerState, SubmitError
from ..config import SchedulerConfig
from ..exceptions import ServerBusy
from ..process import Process
from ..protocol.context_codec import encode_column
from ..protocol.documents import ExceptionInfo, JobStatus, ResponseContext, render_execute_response
from .environment import job_environment
from .folder import JobFolder, atomic_write, is_job_id
from .jobfile import input_digests, pack
from .recovery import recover_context
from .runner import JobOutcome, JobSpec
from .serial import SerialExecutor
from .status_reader import DocumentState, read_document_state
from .store import ActiveRow, JobStore, StoreUnavailable, now

log = logging.getLogger("wpsgate.cluster")


@dataclass
class Tracked:
    """An unfinished job the monitor follows."""

    uuid: str
    backend_id: str
    context: ResponseContext
    timeout: float
    expire: float
    last: tuple = ()
    over_since: float | None = None
    waiter: asyncio.Future | None = None


@dataclass
class ClusterSettings:
    key_path: str
    python: str
    poll_interval: float
    retries: int
    nfs_grace: float
    native: str = ""
    queue: str = ""
    maxjobs: int = 10000
    per_process: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)  # the job's whole environment (scheduler.environment)
    pythonpath: tuple[str, ...] = ()  # signed into every job file; added to sys.path by the joblauncher


# Where the joblauncher starts: not the job's folder or its work/ folder (which the job, and so
# anything that got into its folder, writes), but a folder no process writes into.  Isolated mode
# (-I) keeps the current folder off sys.path anyway; this also keeps relative paths in the
# launcher's start-up away from job-controlled files.  The handler still runs in work/ (runner.run_job).
LAUNCH_DIRECTORY = "/"


def settings_from_config(config: SchedulerConfig, key_path: str) -> ClusterSettings:
    return ClusterSettings(key_path=key_path, python=config.python or sys.executable,
                           poll_interval=config.poll_interval, retries=config.submit_retries,
                           nfs_grace=config.nfs_grace, native=config.native, queue=config.queue,
                           maxjobs=config.maxjobs,
                           per_process=dict(config.processes),
                           environment=job_environment(config.environment), pythonpath=tuple(config.pythonpath))


def launch_command(python: str, key_path: str, folder: str) -> tuple[str, ...]:
    """The joblauncher's command line: isolated mode (-I: no PYTHON* variables, no user site, neither the
    current nor the script's folder on sys.path), so nothing planted in a job folder, the spool or the
    environment is imported before the job file's signature is checked."""
    return (python, "-I", "-m", "joblauncher", "--key", key_path, folder)


class ClusterEngine:
    def __init__(self, *, backend_factory: Callable[[], ClusterBackend], store: JobStore, spool: str, key: bytes,
                 settings: ClusterSettings, io: SerialExecutor) -> None:
        self.store = store
        self.spool = spool
        self.key = key
        self.settings = settings
        self.io_call = io.call
        self.thread = SerialExecutor("wpsgate-scheduler")  # every backend call, e.g. one DRMAA session
        self.backend_factory = backend_factory
        self.backend: ClusterBackend | None = None
        self.active: dict[str, Tracked] = {}
        self._task: asyncio.Task | None = None
        self.name = ""

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.thread.call(function, *args)

    async def start(self) -> None:
        """Open the backend (its one thread, e.g. one DRMAA session) and start the monitor."""
        self.backend = await self.call(self.backend_factory)
        self.name = self.backend.name
        self._task = asyncio.create_task(self._monitor_loop(), name="wpsgate-monitor")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.backend is not None:
            await self.call(self.backend.close)
        self.thread.shutdown()

    # --- submission ---------------------------------------------------------------------------------------

    def cluster_job(self, spec: JobSpec, process: Process, timeout: float) -> ClusterJob:
        folder = JobFolder(self.spool, spec.uuid)
        declared = process.resources
        configured = self.settings.per_process.get(process.identifier)
        walltime = min(timeout, configured.walltime) if configured and configured.walltime else timeout
        return ClusterJob(
            uuid=spec.uuid, name=f"wps-{spec.uuid}",
            command=launch_command(self.settings.python, self.settings.key_path, folder.path),
            folder=folder.path, workdir=LAUNCH_DIRECTORY, log=folder.log, walltime=walltime,
            memory=(configured.memory if configured and configured.memory else declared.memory),
            cpus=(configured.cpus if configured and configured.cpus else declared.cpus),
            queue=(configured.queue if configured and configured.queue else declared.queue) or self.settings.queue,
            native=" ".join(p for p in (declared.native, configured.native if configured else "") if p),
            environment=dict(self.settings.environment))

    def _persist(self, spec: JobSpec, process: Process, timeout: float, expire: float, is_async: bool) -> bytes:
        import dill

        folder = JobFolder(self.spool, spec.uuid).create()
        job = dill.dumps({"process": process, "spec": spec, "timeout": timeout})
        digests = input_digests(folder.path, spec.inputs)
        atomic_write(folder.job_file, pack(self.key, spec.uuid, spec.context, job, inputs=digests,
                                           pythonpath=self.settings.pythonpath), durable=True)
        accepted = render_execute_response(spec.context, JobStatus("accepted", "Process accepted, submitted to "
                                                                              "the scheduler"))
        folder.write_status(accepted, durable=True)
        self.store.insert(uuid=spec.uuid, process=spec.process_identifier, status="accepted", percent=0,
                          message="submitting to the scheduler", created=now(), expire_seconds=expire,
                          timeout=timeout, backend=self.name, is_async=is_async, request="", outputs="[]",
                          context=encode_column(spec.context))
        return accepted

    async def submit(self, spec: JobSpec, process: Process, timeout: float, expire: float) -> bytes:
        """Persist and submit an async job; the document to answer with: accepted, or failed with the
        scheduler's reason."""
        accepted, refused = await self._submit(spec, process, timeout, expire)
        return accepted if refused is None else refused.document

    def check_capacity(self) -> None:
        """Raise ServerBusy when this gateway already follows ``scheduler.maxjobs`` unfinished jobs."""
        if len(self.active) >= self.settings.maxjobs:
            raise ServerBusy(f"{len(self.active)} jobs are unfinished on the scheduler, the most this gateway "
                             "follows; try again later")

    async def _submit(self, spec: JobSpec, process: Process, timeout: float, expire: float,
                      is_async: bool = True) -> tuple[bytes, JobOutcome | None]:
        """Persist and submit; the accepted document, and the failed outcome when the scheduler refused."""
        self.check_capacity()
        spec.store = True
        accepted = await self.io_call(self._persist, spec, process, timeout, expire, is_async)
        job = self.cluster_job(spec, process, timeout)
        error = ""
        for attempt in range(self.settings.retries):
            try:
                backend_id = await self.call(self.backend.submit, job)
                break
            except SubmitError as exc:
                error = str(exc).strip()
                log.warning("job %s: submission %d failed: %s", spec.uuid, attempt + 1, error)
                if not exc.transient:
                    reason = f"the scheduler refused the job: {error}"
                    return accepted, await self.io_call(self._fail, spec.uuid, spec.context, reason, expire)
                if attempt + 1 < self.settings.retries:
                    await asyncio.sleep(min(5.0, 0.5 * 2 ** attempt))
        else:
            reason = f"the scheduler could not be reached after {self.settings.retries} attempts: {error}"
            return accepted, await self.io_call(self._fail, spec.uuid, spec.context, reason, expire)
        await self.io_call(self._record_id, spec.uuid, backend_id)
        self.active[spec.uuid] = Tracked(spec.uuid, backend_id, spec.context, timeout, expire)
        return accepted, None

    def _record_id(self, uuid: str, backend_id: str) -> None:
        atomic_write(os.path.join(JobFolder(self.spool, uuid).path, "scheduler.id"), backend_id.encode(), True)
        self.store.update(uuid, True, backend_id=backend_id, message="queued in the scheduler")

    async def run_sync(self, spec: JobSpec, process: Process, timeout: float, expire: float) -> JobOutcome:
        """Submit and wait for the final document (bounded by the timeout plus scheduling slack)."""
        _accepted, failed = await self._submit(spec, process, timeout, expire, is_async=False)
        if failed is not None:
            return failed
        tracked = self.active[spec.uuid]
        tracked.waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(tracked.waiter), timeout + 120)
        except asyncio.TimeoutError:
            await self.cancel(spec.uuid)
            return await self.io_call(self._fail, spec.uuid, spec.context,
                                      f"the job did not finish within {timeout:g} s", 0.0)
        document = await self.io_call(_read_bytes, JobFolder(self.spool, spec.uuid).status)
        state = read_document_state(JobFolder(self.spool, spec.uuid).status)
        return JobOutcome(spec.uuid, state.state if state else "failed", state.message if state else "",
                          document=document)

    # --- the monitor --------------------------------------------------------------------------------------

    async def _monitor_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("monitor round failed")
            await asyncio.sleep(self.settings.poll_interval)

    def _read_documents(self, uuids: list[str]) -> dict[str, DocumentState | None]:
        return {uuid: read_document_state(JobFolder(self.spool, uuid).status) for uuid in uuids}

    async def reconcile(self) -> None:
        """One round: documents, one scheduler query for all unfinished jobs, the job table."""
        if not self.active:
            return
        tracked = dict(self.active)
        documents = await self.io_call(self._read_documents, list(tracked))
        pending = {t.backend_id: uuid for uuid, t in tracked.items()
                   if not (documents[uuid] and documents[uuid].final) or _interrupted(documents[uuid])}
        states: dict[str, SchedulerState] = {}
        if pending:
            try:
                states = await self.call(self.backend.poll, list(pending))
            except SubmitError as exc:  # the scheduler is unreachable: keep following, decide nothing now
                log.warning("scheduler query failed: %s", exc)
                states = {}
        updates = []
        for uuid, job in tracked.items():
            if uuid not in self.active:
                continue
            document = documents[uuid]
            scheduler = states.get(job.backend_id)
            if document is not None and document.final:
                if _interrupted(document):
                    # the node wrote why it stopped (a signal); the scheduler knows what sent it
                    job.over_since = job.over_since or time.monotonic()
                    if scheduler is not None and scheduler.finished and scheduler.reason:
                        await self.io_call(self._fail, uuid, job.context,
                                           f"{scheduler.reason} ({document.message})", job.expire)
                    elif time.monotonic() - job.over_since < 2 * self.settings.nfs_grace:
                        continue
                    else:
                        await self.io_call(self._finish, uuid, document, job.expire)
                else:
                    await self.io_call(self._finish, uuid, document, job.expire)
                self._done(uuid)
                continue
            if scheduler is not None and scheduler.finished:
                job.over_since = job.over_since or time.monotonic()
                if time.monotonic() - job.over_since >= self.settings.nfs_grace:
                    reason = await self.io_call(self._post_mortem, uuid, scheduler)
                    await self.io_call(self._fail, uuid, job.context, reason, job.expire)
                    self._done(uuid)
                continue
            job.over_since = None
            running = (scheduler is not None and scheduler.state == "running") or \
                (document is not None and document.state == "started")
            key = (running, document.percent if document else 0, document.message if document else "")
            if running and key != job.last:
                job.last = key
                updates.append((uuid, key[1], key[2] or "running"))
        if updates:
            await self.io_call(self._progress, updates)

    def _done(self, uuid: str) -> None:
        job = self.active.pop(uuid, None)
        if job is not None and job.waiter is not None and not job.waiter.done():
            job.waiter.set_result(True)

    def _progress(self, updates: list[tuple[str, int, str]]) -> None:
        for uuid, percent, message in updates:
            self.store.update(uuid, True, status="started", percent=percent, message=message[:2000],
                              started=now())

    def _post_mortem(self, uuid: str, scheduler: SchedulerState) -> str:
        """Why a job ended without a final document, in words a scientist understands."""
        folder = JobFolder(self.spool, uuid)
        record = folder.read_result() or {}
        if record.get("message") and record.get("state") in ("refused", "failed"):
            return str(record["message"])
        log_tail = _tail(folder.log)
        if "Exceeded job memory limit" in log_tail or "oom-kill" in log_tail.lower():
            return "the job exceeded its memory limit and was killed by the scheduler"
        if scheduler.reason:
            return scheduler.reason
        if scheduler.exit_code not in (None, 0):
            return f"the job ended with exit code {scheduler.exit_code} without writing its final status"
        return "the job ended without writing its final status document"

    def _finish(self, uuid: str, document: DocumentState, expire: float) -> None:
        record = JobFolder(self.spool, uuid).read_result() or {}
        finished = now()
        started = _parse_time(record.get("started"))
        if started is not None:
            self.store.update(uuid, True, started=started)
        self.store.update(uuid, True, status=document.state, message=document.message[:2000],
                          percent=100 if document.state == "succeeded" else document.percent, finished=finished,
                          expires=finished + _dt.timedelta(seconds=expire),
                          outputs=_json_list(record.get("outputs", [])))

    def _fail(self, uuid: str, context: ResponseContext | None, reason: str, expire: float) -> JobOutcome:
        """Fail the job: its row, and its status document when its context is known."""
        error = ExceptionInfo("NoApplicableCode", reason)
        document = None
        if context is not None and is_job_id(uuid):
            document = render_execute_response(context, JobStatus("failed", reason, error=error))
            folder = JobFolder(self.spool, uuid)
            if os.path.isdir(folder.path):
                folder.write_status(document, durable=True)
        finished = now()
        self.store.update(uuid, True, status="failed", message=reason[:2000], finished=finished,
                          expires=finished + _dt.timedelta(seconds=expire))
        return JobOutcome(uuid, "failed", reason, document=document, error=error, finished=finished)

    # --- dismiss and recovery -----------------------------------------------------------------------------

    async def cancel(self, uuid: str) -> bool:
        job = self.active.get(uuid)
        if job is None:
            return False
        await self.call(self.backend.cancel, job.backend_id)
        self._done(uuid)
        return True

    async def recover(self, rows: list[ActiveRow]) -> None:
        """Follow again every unfinished job of this backend; find or fail those caught mid-submission.
        No row can stop the start: one that cannot be read fails its job with the reason."""
        for row in rows:
            try:
                await self._recover_one(row)
            except StoreUnavailable:
                raise
            except Exception as exc:  # whatever a row holds, the gateway starts
                log.exception("job %s could not be recovered", row.uuid)
                await self.io_call(self._fail, row.uuid, None, f"the job could not be recovered: {exc}",
                                   row.expire_seconds)
        if self.active:
            log.info("following %d unfinished job(s) on %s", len(self.active), self.name)

    async def _recover_one(self, row: ActiveRow) -> None:
        recovered = await self.io_call(recover_context, row, self.spool, self.key)
        context = recovered.context
        if recovered.problem:
            await self.io_call(self._fail, row.uuid, context, recovered.problem, row.expire_seconds)
            return
        if recovered.migrated:
            await self.io_call(self.store.update, row.uuid, True, context=encode_column(context))
        backend_id = row.backend_id or await self.io_call(_read_text, os.path.join(
            JobFolder(self.spool, row.uuid).path, "scheduler.id"))
        if backend_id and not self.backend.valid_id(backend_id):
            await self.io_call(self._fail, row.uuid, context, f"the job's scheduler id {backend_id[:64]!r} is not "
                               f"one {self.name} gives; the job is not followed", row.expire_seconds)
            return
        if not backend_id:
            backend_id = await self.call(self.backend.find, f"wps-{row.uuid}")
            if backend_id:
                await self.io_call(self._record_id, row.uuid, backend_id)
        if not backend_id:
            await self.io_call(self._fail, row.uuid, context,
                               "the gateway stopped while submitting the job; it was not submitted",
                               row.expire_seconds)
            return
        self.active[row.uuid] = Tracked(row.uuid, backend_id, context, row.timeout, row.expire_seconds)


def _interrupted(document: DocumentState | None) -> bool:
    """A final document written because a signal stopped the job (see joblauncher.launch)."""
    return bool(document and document.state == "failed" and "stopped by a signal" in document.message)


def _parse_time(value: Any) -> _dt.datetime | None:
    try:
        return _dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _tail(path: str, size: int = 8192) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _json_list(items: Any) -> str:
    import json

    return json.dumps(list(items) if isinstance(items, (list, tuple)) else [])
