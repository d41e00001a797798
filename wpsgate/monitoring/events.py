"""The shape of a job event as the monitoring adapters read it.

The job engine's observer hook is to call ``LifecycleLog.observe`` and
``JobMetrics.observe`` with one event per transition of a job.  The adapters read
only the attributes below (by name, so the engine's own event class may be passed
as it is if it has them, or mapped to ``JobEvent``):

=================  ==========================================================================
``kind``           accepted, queued, submitted, started, progress, succeeded, failed, dismissed,
                   expired, recovered; and, for scheduler calls, scheduler_submit / scheduler_poll
``job_id``         the job's uuid (empty for scheduler_poll, which covers many jobs)
``process``        the process identifier
``backend``        local, slurm or drmaa
``scheduler_id``   the scheduler's job id (submitted and after), else ""
``reason``         why a job failed, was dismissed or expired; a scheduler call's error
``is_async``       whether the client polls a status document
``created``        time.time() of acceptance (for end-to-end latency), 0 when unknown
``duration``       for scheduler_submit / scheduler_poll: seconds the call took
``ok``             for scheduler_submit / scheduler_poll: whether it succeeded
``user``/``client``  who asked, once requests carry an identity (None until then)
=================  ==========================================================================
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

JOB_KINDS = ("accepted", "queued", "submitted", "started", "progress", "succeeded", "failed", "dismissed",
             "expired", "recovered")
FINAL_KINDS = ("succeeded", "failed", "dismissed", "expired")
SCHEDULER_KINDS = ("scheduler_submit", "scheduler_poll")


@dataclass(frozen=True)
class JobEvent:
    kind: str
    job_id: str = ""
    process: str = ""
    backend: str = ""
    scheduler_id: str = ""
    reason: str = ""
    is_async: bool = True
    created: float = 0.0
    duration: float = 0.0
    ok: bool = True
    percent: Optional[int] = None
    user: Optional[str] = None
    client: Optional[str] = None
