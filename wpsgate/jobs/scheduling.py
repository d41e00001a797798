"""What the job engine and a batch scheduler backend say to each other (no backend code here).

The engine (jobs.cluster) talks to a ``SchedulerBackend``; backends (wpsgate.backends) implement
it.  The types live here, on the engine's side, so that ``backends/`` imports ``jobs/`` and never
the other way round.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ClusterJob:
    """What a scheduler needs to run one job folder.

    ``workdir`` is where the command starts (a folder the job does not write, see
    jobs.cluster.LAUNCH_DIRECTORY), and ``environment`` is the job's whole environment:
    a backend passes nothing else of the gateway's own.
    """

    uuid: str
    name: str
    command: tuple[str, ...]
    folder: str
    workdir: str
    log: str
    walltime: float | None = None
    memory: int | None = None
    cpus: int | None = None
    queue: str | None = None
    native: str = ""
    environment: dict[str, str] = field(default_factory=dict)
    user: str = ""  # who the job is for, made safe for command lines (jobs.accounting.scheduler_user)
    account: str = ""  # the scheduler account to charge ('' : the scheduler's default)
    comment: str = ""  # Slurm's --comment: the user and the job (or array)


@dataclass(frozen=True)
class SchedulerState:
    """A scheduler's view of one job: queued, running, done, failed or unknown (forgotten)."""

    state: str
    reason: str = ""
    exit_code: int | None = None
    raw: str = ""

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed", "unknown")


@dataclass(frozen=True)
class ArrayJob:
    """Several job folders submitted as one scheduler array (Slurm ``--array``, DRMAA ``runBulkJobs``).

    ``template`` holds the resources, working folder and environment all of them share (its uuid,
    folder and log are unused); ``command`` runs the joblauncher on ``manifest``, whose line i (from
    0) names the job of task i; ``log`` is the scheduler's output file of each task, with ``{task}``
    where the backend puts its task-index placeholder.  ``submit_array`` returns the ids of the
    tasks, in manifest order."""

    name: str
    manifest: str
    command: tuple[str, ...]
    log: str
    size: int
    template: ClusterJob


@dataclass(frozen=True)
class Submission:
    """The result of submitting one job of a batch: the scheduler's id, or the error."""

    uuid: str
    scheduler_id: str | None
    error: "SubmitError | None" = None


class SubmitError(Exception):
    """The scheduler refused the job or could not be reached; the message is the scheduler's.

    ``transient`` errors (the scheduler is unreachable or busy) are worth retrying;
    others (an invalid option, an unknown queue) are not.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient



def valid_scheduler_id(job_id: str) -> bool:
    return bool(_JOB_ID.fullmatch(job_id))


class SchedulerBackend(Protocol):
    """A batch scheduler, through blocking calls made from one thread (one DRMAA session)."""

    name: str

    supports_arrays: bool

    def submit_many(self, jobs: list[ClusterJob]) -> list[Submission]: ...

    def submit_array(self, array: ArrayJob) -> list[str]: ...

    def array_task_id(self, array_id: str, index: int) -> str: ...

    def poll(self, ids: list[str]) -> dict[str, SchedulerState]: ...

    def cancel(self, job_id: str) -> None: ...

    def valid_id(self, job_id: str) -> bool: ...

    def find(self, names: list[str]) -> dict[str, str]:
        """Ids by job name (an array's name gives the array's id)."""

    def close(self) -> None: ...
