"""Does the scheduler answer?  One cheap question that needs its controller, per kind of scheduler.

Slurm: ``sinfo -h -o %P`` (the partitions; it fails at once when slurmctld cannot be
reached, unlike ``--version``).  DRMAA: the status of job id 0 through the gateway's
own session, on the thread that owns it: "no such job" is an answer from the
scheduler, a communication error is not.
"""
from __future__ import annotations

from typing import Any, Callable

from .readiness import NamedProbe, ProbeFailed, backend_probe, command_probe

SCHEDULER_DOWN = "the scheduler does not answer"
SLURM_QUESTION = ("sinfo", "-h", "-o", "%P")


def slurm_probe() -> NamedProbe:
    return NamedProbe("scheduler", command_probe(SLURM_QUESTION), SCHEDULER_DOWN, cancel_on_timeout=True)


def drmaa_answers(backend: Any) -> None:
    """Raise ProbeFailed unless the DRMAA session's scheduler answers (call on the session's thread)."""
    if backend is None:
        raise ProbeFailed("the DRMAA session is not open")
    errors = backend.drmaa.errors
    try:
        backend.session.jobStatus("0")
    except (errors.InvalidJobException, errors.InvalidArgumentException):
        return  # the scheduler answered: no such job
    except errors.DrmaaException as exc:
        raise ProbeFailed(f"DRMAA: {str(exc).strip()}") from None


def drmaa_probe(call: Callable[..., Any], backend: Callable[[], Any]) -> NamedProbe:
    """``call``: runs a function on the scheduler thread (SchedulerRunner.call); ``backend``: the open backend."""
    return NamedProbe("scheduler", backend_probe(call, lambda: drmaa_answers(backend())), SCHEDULER_DOWN)
