"""The interface of a batch scheduler backend: submit, poll many, cancel.

Methods block (a subprocess, a DRMAA call); the job engine calls them from the
backend's own single thread, never from the event loop.  Recovery after a restart
needs nothing more than ``poll`` with the ids the job table kept.
"""
from __future__ import annotations

import abc
import math
import re
from dataclasses import dataclass, field


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


class SubmitError(Exception):
    """The scheduler refused the job or could not be reached; the message is the scheduler's.

    ``transient`` errors (the scheduler is unreachable or busy) are worth retrying;
    others (an invalid option, an unknown queue) are not.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ClusterBackend(abc.ABC):
    name = ""

    @abc.abstractmethod
    def submit(self, job: ClusterJob) -> str:
        """Submit and return the scheduler's job id; raises SubmitError."""

    @abc.abstractmethod
    def poll(self, ids: list[str]) -> dict[str, SchedulerState]:
        """The state of every id, in as few scheduler calls as possible."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> None:
        """Ask the scheduler to stop the job (no error if it already ended)."""

    def valid_id(self, job_id: str) -> bool:
        """Whether ``job_id`` has the shape of this scheduler's ids (ids read back from the job table
        or a job folder are checked before they reach a scheduler command)."""
        return bool(_JOB_ID.fullmatch(job_id))

    def find(self, name: str) -> str | None:
        """The id of a job submitted with ``name``, if the scheduler can tell (restart recovery)."""
        return None

    def close(self) -> None:
        pass


def hms(seconds: float) -> str:
    """H:MM:SS, rounded up to whole seconds."""
    total = max(1, int(math.ceil(seconds)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def walltime_minutes(seconds: float) -> int:
    """Slurm's --time granularity is one minute: round up."""
    return max(1, int(math.ceil(seconds / 60.0)))
