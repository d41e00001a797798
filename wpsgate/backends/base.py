"""The interface of a batch scheduler backend: submit, poll many, cancel.

Methods block (a subprocess, a DRMAA call); the job engine calls them from the
backend's own single thread, never from the event loop.  Recovery after a restart
needs nothing more than ``poll`` with the ids the job table kept.
"""
from __future__ import annotations

import abc
import math


from ..jobs.scheduling import ArrayJob, ClusterJob, SchedulerState, SubmitError, Submission, valid_scheduler_id

__all__ = ["ArrayJob", "ClusterBackend", "ClusterJob", "SchedulerState", "SubmitError", "Submission", "hms",
           "walltime_minutes"]


class ClusterBackend(abc.ABC):
    name = ""
    supports_arrays = False  # submit_array and array_task_id work

    def submit_array(self, array: ArrayJob) -> list[str]:
        """Submit the jobs of ``array`` in one call; the task ids in manifest order; raises SubmitError."""
        raise NotImplementedError

    def array_task_id(self, array_id: str, index: int) -> str:
        """The id of task ``index`` (from 0) of the array ``array_id``."""
        raise NotImplementedError

    @abc.abstractmethod
    def submit(self, job: ClusterJob) -> str:
        """Submit and return the scheduler's job id; raises SubmitError."""

    @abc.abstractmethod
    def poll(self, ids: list[str]) -> dict[str, SchedulerState]:
        """The state of every id, in as few scheduler calls as possible."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> None:
        """Ask the scheduler to stop the job (no error if it already ended)."""

    def submit_many(self, jobs: list[ClusterJob]) -> list[Submission]:
        """Submit several jobs that arrived together; one Submission per job, in order.

        One at a time here; a backend that can do better (several commands in flight, one call
        for many jobs) overrides it.  A transient error stops the batch: the rest are retried."""
        results: list[Submission] = []
        for job in jobs:
            try:
                results.append(Submission(job.uuid, self.submit(job)))
            except SubmitError as exc:
                results.append(Submission(job.uuid, None, exc))
                if exc.transient:
                    results += [Submission(j.uuid, None, exc) for j in jobs[len(results):]]
                    break
        return results

    def valid_id(self, job_id: str) -> bool:
        """Whether ``job_id`` has the shape of this scheduler's ids (ids read back from the job table
        or a job folder are checked before they reach a scheduler command)."""
        return valid_scheduler_id(job_id)

    def find(self, names: list[str]) -> dict[str, str]:
        """The ids of jobs submitted with these names, by name, as far as the scheduler can tell
        (restart recovery: a job submitted whose id was not recorded); raises SubmitError when the
        scheduler cannot be asked."""
        return {}

    def close(self) -> None:
        pass


def hms(seconds: float) -> str:
    """H:MM:SS, rounded up to whole seconds."""
    total = max(1, int(math.ceil(seconds)))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def walltime_minutes(seconds: float) -> int:
    """Slurm's --time granularity is one minute: round up."""
    return max(1, int(math.ceil(seconds / 60.0)))
