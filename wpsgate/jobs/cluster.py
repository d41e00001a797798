"""Jobs on a batch scheduler, as a runner: submit signed job folders in batches, follow every job to its
end, tell the truth.

Accepting a job never waits for the scheduler: the lifecycle persists it (row, signed job
file, ProcessAccepted document) and the client has its answer; a submitter then hands what
arrived together to the scheduler in one batch (``SchedulerBackend.submit_many``), with bounded
retries, and records each scheduler id in the job's folder and row.  A scheduler's refusal fails
the job with the scheduler's message, in its status document.

A periodic, batched reconciliation reads each unfinished job's status document and final record
and asks the scheduler about all of them in one call: progress reaches the job table, and a job
the scheduler says is over without a final document (walltime, memory, cancelled, node failure,
refused job file) becomes ProcessFailed with the reason.

After a restart, jobs with a scheduler id are followed again; jobs without one are looked up by
their name (``wps-<uuid>``) in one call, and those the scheduler does not know are submitted:
each exactly once.
"""
from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import logging
import os
import sys
import time
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from ..config import SchedulerConfig
from ..exceptions import ServerBusy
from ..protocol.documents import ResponseContext
from ..protocol.status import DocumentState, read_document_state
from .accounting import AccountMap, job_comment, scheduler_user
from .environment import job_environment
from .folder import FinalRecord, JobFolder, atomic_write, batches_folder, is_batch_name, is_job_id
from .jobfile import read_job_file
from .lifecycle import Job, JobEnd, PersistOptions, RunnerEvents
from .runner import JobOutcome
from .scheduling import ArrayJob, ClusterJob, SchedulerBackend, SchedulerState, SubmitError, Submission
from .serial import SerialExecutor
from .store import ActiveRow

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
    started: bool = False  # the row was told the job runs


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
    batch: int = 200  # the most jobs handed to the scheduler in one submission round
    window: float = 0.0  # seconds to wait after a job arrives, gathering a larger round
    accounts: AccountMap = field(default_factory=AccountMap)  # the scheduler account of each user


# Where the joblauncher starts: not the job's folder or its work/ folder (which the job, and so
# anything that got into its folder, writes), but a folder no process writes into.  Isolated mode
# (-I) keeps the current folder off sys.path anyway; this also keeps relative paths in the
# launcher's start-up away from job-controlled files.  The handler still runs in work/ (runner.run_job).
LAUNCH_DIRECTORY = "/"


def settings_from_config(config: SchedulerConfig, key_path: str,
                         accounts: AccountMap | None = None) -> ClusterSettings:
    return ClusterSettings(accounts=accounts or AccountMap(), key_path=key_path, python=config.python or sys.executable,
                           poll_interval=config.poll_interval, retries=config.submit_retries,
                           nfs_grace=config.nfs_grace, native=config.native, queue=config.queue,
                           maxjobs=config.maxjobs,
                           per_process=dict(config.processes),
                           environment=job_environment(config.environment), pythonpath=tuple(config.pythonpath),
                           batch=config.submit_batch, window=config.submit_window)


def launch_command(python: str, key_path: str, folder: str) -> tuple[str, ...]:
    """The joblauncher's command line: isolated mode (-I: no PYTHON* variables, no user site, neither the
    current nor the script's folder on sys.path), so nothing planted in a job folder, the spool or the
    environment is imported before the job file's signature is checked."""
    return (python, "-I", "-m", "joblauncher", "--key", key_path, folder)


def launch_batch_command(python: str, key_path: str, manifest: str) -> tuple[str, ...]:
    """The joblauncher's command line for the tasks of an array: each reads its job from the manifest."""
    return (python, "-I", "-m", "joblauncher", "--key", key_path, "--batch", manifest)


MANIFEST_KEEP = 60.0  # seconds a manifest of ended jobs is kept (a batch being submitted is younger)


class SchedulerRunner:
    """The runner of one batch scheduler (Slurm's commands, or a DRMAA library)."""

    runs_inline = False

    def __init__(self, *, backend_factory: Callable[[], SchedulerBackend], spool: str, key: bytes,
                 settings: ClusterSettings, name: str = "") -> None:
        self.spool = spool
        self.key = key
        self.settings = settings
        self.thread = SerialExecutor("wpsgate-scheduler")  # every backend call, e.g. one DRMAA session
        self.disk = SerialExecutor("wpsgate-scheduler-disk")  # the monitor's reads of job folders
        self.backend_factory = backend_factory
        self.backend: SchedulerBackend | None = None
        self.name = name
        self.persist = PersistOptions(process=True, durable=False, pythonpath=settings.pythonpath,
                                      accepted_message="Process accepted, waiting for the scheduler",
                                      row_message="waiting to be submitted to the scheduler",
                                      documents_in_memory=False)
        self.events: RunnerEvents | None = None
        self.active: dict[str, Tracked] = {}
        self.pending: collections.deque[Job] = collections.deque()  # persisted, not yet submitted
        # after a restart, jobs without a scheduler id: submitted or not?  With the array they were submitted in
        self.unverified: list[tuple[Job, tuple[str, int] | None]] = []
        self.rounds = 0
        self.attempts: dict[str, int] = {}
        self.cancelled: set[str] = set()
        self.in_flight: set[str] = set()  # in a submission round that has not come back yet
        self.wake = asyncio.Event()
        self.counts: collections.Counter = collections.Counter()  # scheduler calls made, by kind (bench/)
        self._tasks: list[asyncio.Task] = []

    async def call(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.thread.call(function, *args)

    async def timed_call(self, operation: str, function: Callable[..., Any], *args: Any) -> Any:
        """``call``, told to the lifecycle's observers as a scheduler call (its duration, whether it worked)."""
        started = time.monotonic()
        ok = False
        try:
            result = await self.call(function, *args)
            ok = not (operation == "submit" and isinstance(result, list)
                      and any(getattr(item, "error", None) is not None for item in result))
            return result
        finally:
            if self.events is not None:
                self.events.scheduler_call(self.name, operation, time.monotonic() - started, ok)

    async def open(self) -> None:
        """Open the backend on its own thread (DRMAA sessions belong to the thread that opened them)."""
        if self.backend is None:
            self.backend = await self.call(self.backend_factory)
            self.name = self.backend.name

    async def start(self, events: RunnerEvents) -> None:
        await self.open()
        self.events = events
        self._tasks = [asyncio.create_task(self._submit_loop(), name="wpsgate-submitter"),
                       asyncio.create_task(self._monitor_loop(), name="wpsgate-monitor")]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.backend is not None:
            calls = dict(getattr(self.backend, "calls", {}))
            log.info("scheduler calls while running: %s; submission rounds: %d", json.dumps(calls, sort_keys=True),
                     self.counts["submit_batches"])
            await self.call(self.backend.close)
        self.thread.shutdown()
        self.disk.shutdown()

    # --- admission and submission -----------------------------------------------------------------------------

    def unfinished(self) -> int:
        return len(self.active) + len(self.pending) + len(self.unverified)

    async def admit(self, job_is_async: bool) -> None:
        self.check_before_persist()

    def check_before_persist(self) -> None:
        """Raise ServerBusy when this gateway already follows ``scheduler.maxjobs`` unfinished jobs."""
        if self.unfinished() >= self.settings.maxjobs:
            raise ServerBusy(f"{self.unfinished()} jobs are unfinished on the scheduler, the most this gateway "
                             "follows; try again later")

    def submit(self, job: Job) -> None:
        self.pending.append(job)
        self.wake.set()

    async def run_inline(self, job: Job, wait: float) -> JobOutcome:  # pragma: no cover - runs_inline is False
        raise NotImplementedError("a scheduler runs no job inline")

    def cluster_job(self, job: Job) -> ClusterJob:
        spec, process = job.spec, job.process
        folder = JobFolder(self.spool, spec.uuid)
        declared = process.resources
        configured = self.settings.per_process.get(process.identifier)
        walltime = min(job.timeout, configured.walltime) if configured and configured.walltime else job.timeout
        user = scheduler_user(spec.owner)
        return ClusterJob(
            uuid=spec.uuid, name=job_name(spec.uuid, spec.owner),
            user=user, account=self.settings.accounts.account_for(spec.owner),
            comment=job_comment(user, f"job={spec.uuid}"),
            command=launch_command(self.settings.python, self.settings.key_path, folder.path),
            folder=folder.path, workdir=LAUNCH_DIRECTORY, log=folder.log, walltime=walltime,
            memory=(configured.memory if configured and configured.memory else declared.memory),
            cpus=(configured.cpus if configured and configured.cpus else declared.cpus),
            queue=(configured.queue if configured and configured.queue else declared.queue) or self.settings.queue,
            native=" ".join(p for p in (declared.native, configured.native if configured else "") if p),
            environment=dict(self.settings.environment))

    async def _submit_loop(self) -> None:
        delay = 0.0
        while True:
            if not self.pending and not self.unverified:
                self.wake.clear()
                await self.wake.wait()
                if self.settings.window:
                    await asyncio.sleep(self.settings.window)
            if delay:
                await asyncio.sleep(delay)
            try:
                transient = await self._verify_unrecorded() if self.unverified else False
                if not transient and self.pending:
                    transient = await self._submit_batch()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("submission round failed")
                transient = True
            delay = min(5.0, max(0.5, delay * 2)) if transient else 0.0

    async def _submit_batch(self) -> bool:
        """Hand what is pending to the scheduler in one batch; True when the scheduler could not be reached."""
        batch: list[Job] = []
        while self.pending and len(batch) < max(1, self.settings.batch):
            job = self.pending.popleft()
            if job.uuid in self.cancelled:
                self.cancelled.discard(job.uuid)
                continue
            batch.append(job)
        if not batch:
            return False
        jobs = {job.uuid: job for job in batch}
        cluster_jobs = []
        for job in batch:
            try:
                cluster_jobs.append(self.cluster_job(job))
            except Exception as exc:  # a process whose resources cannot be read: that job fails, not the batch
                del jobs[job.uuid]
                await self.events.fail(job.uuid, job.context, f"the job could not be prepared for the scheduler: "
                                                              f"{exc}", job.expire)
        self.counts["submit_batches"] += 1
        self.in_flight.update(jobs)
        try:
            results = await self._hand_over(cluster_jobs)
        finally:
            self.in_flight.difference_update(jobs)
        retry: list[Job] = []
        recorded: dict[str, str] = {}
        for result in results:
            job = jobs[result.uuid]
            if result.scheduler_id is not None:
                self.attempts.pop(job.uuid, None)
                self.active[job.uuid] = Tracked(job.uuid, result.scheduler_id, job.context, job.timeout, job.expire)
                recorded[job.uuid] = result.scheduler_id
                continue
            error = str(result.error).strip() if result.error else "no answer"
            attempt = self.attempts[job.uuid] = self.attempts.get(job.uuid, 0) + 1
            log.warning("job %s: submission %d failed: %s", job.uuid, attempt, error)
            if result.error is not None and not result.error.transient:
                self.attempts.pop(job.uuid, None)
                await self.events.fail(job.uuid, job.context, f"the scheduler refused the job: {error}", job.expire)
            elif attempt >= self.settings.retries:
                self.attempts.pop(job.uuid, None)
                await self.events.fail(job.uuid, job.context, f"the scheduler could not be reached after "
                                                              f"{attempt} attempts: {error}", job.expire)
            else:
                retry.append(job)
        self.pending.extendleft(reversed(retry))  # first in, first out: the retried go first
        if recorded:
            await asyncio.gather(self.events.submitted_many(recorded), return_exceptions=True)
        for uuid in recorded:  # dismissed while their round was on its way: cancelled now that they have ids
            if uuid in self.cancelled:
                self.cancelled.discard(uuid)
                await self.cancel(uuid)
        return bool(retry)

    async def _hand_over(self, jobs: list[ClusterJob]) -> list[Submission]:
        """Submit one round: as arrays, one per set of jobs that share their resources, where the scheduler
        has them (one command or call for all), else job by job."""
        if not getattr(self.backend, "supports_arrays", False):
            return await self.timed_call("submit", self.backend.submit_many, jobs)
        groups: dict[tuple, list[ClusterJob]] = {}
        for job in jobs:
            groups.setdefault(_shared(job), []).append(job)
        results: list[Submission] = []
        for members in groups.values():
            user = members[0].user  # one array per user and account (_shared): each carries its user
            name = f"wps-batch-{_uuid.uuid4().hex}" + (f"-{user}" if user else "")
            manifest = os.path.join(batches_folder(self.spool), name + ".txt")
            await self.disk.call(self._write_manifest, name, manifest, [job.uuid for job in members])
            template = dataclasses.replace(members[0], comment=job_comment(user, f"batch={name}"))
            array = ArrayJob(name=name, manifest=manifest,
                             command=launch_batch_command(self.settings.python, self.settings.key_path, manifest),
                             log=os.path.join(batches_folder(self.spool), name + ".{task}.log"), size=len(members),
                             template=template)
            try:
                ids = await self.timed_call("submit", self.backend.submit_array, array)
            except SubmitError as exc:
                results += [Submission(job.uuid, None, exc) for job in members]
                continue
            results += [Submission(job.uuid, task_id) for job, task_id in zip(members, ids)]
        return results

    def _write_manifest(self, name: str, manifest: str, uuids: list[str]) -> None:
        """Each job's folder names its array and index (recovery), then the manifest names the jobs."""
        for index, uuid in enumerate(uuids):
            JobFolder(self.spool, uuid).write_batch(name, index)
        os.makedirs(os.path.dirname(manifest), mode=0o750, exist_ok=True)
        atomic_write(manifest, "".join(uuid + "\n" for uuid in uuids).encode("ascii"), durable=False)

    def _sweep_manifests(self, followed: set[str]) -> None:
        """Remove the manifests (and task logs) of arrays none of whose jobs is followed any more."""
        folder = batches_folder(self.spool)
        try:
            names = os.listdir(folder)
        except OSError:
            return
        now = time.time()
        for entry in names:
            name, _, rest = entry.partition(".")
            if rest != "txt" or not is_batch_name(name):
                continue
            path = os.path.join(folder, entry)
            try:
                if now - os.stat(path).st_mtime < MANIFEST_KEEP:
                    continue
                with open(path, encoding="ascii", errors="replace") as handle:
                    uuids = {line.strip() for line in handle if is_job_id(line.strip())}
            except OSError:
                continue
            if uuids & followed:
                continue
            for other in names:
                if other == entry or (other.startswith(name + ".") and other.endswith(".log")):
                    try:
                        os.unlink(os.path.join(folder, other))
                    except OSError:
                        pass

    # --- the monitor ------------------------------------------------------------------------------------------

    async def _monitor_loop(self) -> None:
        while True:
            try:
                await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("monitor round failed")
            await asyncio.sleep(self.settings.poll_interval)

    def _read_folders(self, uuids: list[str]) -> dict[str, tuple[DocumentState | None, FinalRecord | None]]:
        """Each job's document, and its final record once the document is final."""
        found = {}
        for uuid in uuids:
            folder = JobFolder(self.spool, uuid)
            document = read_document_state(folder.status)
            found[uuid] = (document, folder.read_final() if document is not None and document.final else None)
        return found

    async def reconcile(self) -> None:
        """One round: documents, one scheduler query for all unfinished jobs, the job table."""
        self.rounds += 1
        if self.rounds % 30 == 1 and getattr(self.backend, "supports_arrays", False):
            followed = set(self.active) | {j.uuid for j in self.pending} | {j.uuid for j, _ in self.unverified}
            await self.disk.call(self._sweep_manifests, followed)
        if not self.active:
            return
        tracked = dict(self.active)
        folders = await self.disk.call(self._read_folders, list(tracked))
        pending = {t.backend_id: uuid for uuid, t in tracked.items()
                   if not (folders[uuid][0] and folders[uuid][0].final) or _interrupted(folders[uuid][1])}
        states: dict[str, SchedulerState] = {}
        if pending:
            try:
                self.counts["poll"] += 1
                states = await self.timed_call("poll", self.backend.poll, list(pending))
            except SubmitError as exc:  # the scheduler is unreachable: keep following, decide nothing now
                log.warning("scheduler query failed: %s", exc)
                states = {}
        events = self.events
        for uuid, job in tracked.items():
            if uuid not in self.active:
                continue
            document, record = folders[uuid]
            scheduler = states.get(job.backend_id)
            if document is not None and document.final:
                if _interrupted(record):
                    # the node wrote why it stopped (a signal); the scheduler knows what sent it
                    job.over_since = job.over_since or time.monotonic()
                    if scheduler is not None and scheduler.finished and scheduler.reason:
                        self.active.pop(uuid, None)
                        await events.fail(uuid, job.context, f"{scheduler.reason} ({document.message})", job.expire)
                        continue
                    if time.monotonic() - job.over_since < 2 * self.settings.nfs_grace:
                        continue
                self.active.pop(uuid, None)
                await events.finished(uuid, JobEnd.of_record(document.state, document.message, record), job.expire)
                continue
            if scheduler is not None and scheduler.finished:
                job.over_since = job.over_since or time.monotonic()
                if time.monotonic() - job.over_since >= self.settings.nfs_grace:
                    reason = await self.disk.call(self._post_mortem, uuid, scheduler)
                    self.active.pop(uuid, None)
                    await events.fail(uuid, job.context, reason, job.expire)
                continue
            job.over_since = None
            running = (scheduler is not None and scheduler.state == "running") or \
                (document is not None and document.state == "started")
            if not running:
                continue
            if not job.started:
                job.started = True
                events.started(uuid)
            key = (document.percent if document else 0, document.message if document else "")
            if key != job.last:
                job.last = key
                events.progress(uuid, key[1] or "running", key[0])

    def _post_mortem(self, uuid: str, scheduler: SchedulerState) -> str:
        """Why a job ended without a final document, in words a scientist understands."""
        folder = JobFolder(self.spool, uuid)
        record = folder.read_final()
        if record is not None and record.message and record.state in ("refused", "failed"):
            return record.message
        log_tail = _tail(folder.log)
        batch = folder.read_batch()
        if batch is not None:  # what the scheduler itself wrote (a memory kill) is in the array task's log
            log_tail += _tail(os.path.join(batches_folder(self.spool), f"{batch[0]}.{batch[1]}.log"))
        if "Exceeded job memory limit" in log_tail or "oom-kill" in log_tail.lower():
            return "the job exceeded its memory limit and was killed by the scheduler"
        if scheduler.reason:
            return scheduler.reason
        if scheduler.exit_code not in (None, 0):
            return f"the job ended with exit code {scheduler.exit_code} without writing its final status"
        return "the job ended without writing its final status document"

    # --- dismiss and recovery -----------------------------------------------------------------------------

    async def cancel(self, uuid: str) -> None:
        """Stop the job: not submitted yet, it never will be; submitted, the scheduler is told."""
        for job in list(self.pending):
            if job.uuid == uuid:
                self.pending.remove(job)
                return
        job = self.active.pop(uuid, None)
        if job is not None:
            self.counts["cancel"] += 1
            await self.call(self.backend.cancel, job.backend_id)
        elif uuid in self.in_flight or any(j.uuid == uuid for j, _ in self.unverified):
            self.cancelled.add(uuid)  # its id comes back (or is found) later: cancelled then

    async def resume(self, jobs: list[tuple[ActiveRow, ResponseContext]]) -> None:
        """Follow again every job with a scheduler id; look up the others by name before submitting them."""
        for row, context in jobs:
            folder = JobFolder(self.spool, row.uuid)
            backend_id = row.backend_id or await self.disk.call(folder.read_scheduler_id)
            if backend_id and not self.backend.valid_id(backend_id):
                await self.events.fail(row.uuid, context, f"the job's scheduler id {backend_id[:64]!r} is not "
                                       f"one {self.name} gives; the job is not followed", row.expire_seconds)
                continue
            if backend_id:
                self.active[row.uuid] = Tracked(row.uuid, backend_id, context, row.timeout, row.expire_seconds,
                                                started=row.status == "started")
                if not row.backend_id:
                    await self.events.submitted(row.uuid, backend_id)
                continue
            try:
                loaded = await self.disk.call(read_job_file, folder, self.key)
            except Exception as exc:  # missing, refused or not loadable here: it cannot be submitted
                await self.events.fail(row.uuid, context, f"the job could not be submitted after the gateway "
                                       f"restarted: {exc}", row.expire_seconds)
                continue
            marker = await self.disk.call(folder.read_batch)
            self.unverified.append((Job(loaded.spec, loaded.timeout, row.expire_seconds, loaded.process), marker))
        if self.active or self.unverified:
            log.info("following %d unfinished job(s) on %s; %d to look up", len(self.active), self.name,
                     len(self.unverified))
            self.wake.set()

    async def _verify_unrecorded(self) -> bool:
        """Jobs persisted before a restart without a scheduler id: the scheduler knows them by name (submitted,
        the id not recorded) or not (never submitted: submitted now).  True when the scheduler cannot be asked."""
        names = {marker[0] if marker else job_name(job.uuid, job.spec.owner) for job, marker in self.unverified}
        try:
            self.counts["find"] += 1
            found = await self.call(self.backend.find, sorted(names))
        except SubmitError as exc:
            log.warning("cannot look up jobs submitted before the restart: %s", exc)
            return True
        unverified, self.unverified = self.unverified, []
        for job, marker in unverified:
            if marker is not None:
                array_id = found.get(marker[0])
                scheduler_id = self.backend.array_task_id(array_id, marker[1]) if array_id else None
            else:
                scheduler_id = found.get(job_name(job.uuid, job.spec.owner))
            if scheduler_id and self.backend.valid_id(scheduler_id):
                self.active[job.uuid] = Tracked(job.uuid, scheduler_id, job.context, job.timeout, job.expire)
                await self.events.submitted(job.uuid, scheduler_id)
                if job.uuid in self.cancelled:
                    self.cancelled.discard(job.uuid)
                    await self.cancel(job.uuid)
            elif job.uuid in self.cancelled:
                self.cancelled.discard(job.uuid)
            else:
                self.pending.append(job)
        return False


def job_name(uuid: str, owner: str | None = None) -> str:
    """The name a job has in the scheduler, by which a restart finds it (with its user, when it has one)."""
    user = scheduler_user(owner)
    return f"wps-{uuid}-{user}" if user else f"wps-{uuid}"


def _shared(job: ClusterJob) -> tuple:
    """What the jobs of one array must have in common: resources, and the user and account it is charged to."""
    return (job.walltime, job.memory, job.cpus, job.queue, job.native, job.workdir,
            tuple(sorted(job.environment.items())), job.user, job.account)


def _interrupted(record: FinalRecord | None) -> bool:
    """A final document written because a signal stopped the job (the final record says so)."""
    return bool(record is not None and record.interrupted)


def _tail(path: str, size: int = 8192) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""
