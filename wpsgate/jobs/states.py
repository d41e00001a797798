"""The states of a job, one enum for the job table, the lifecycle and the status API.

accepted → started → succeeded | failed | dismissed, and later expired (the files are gone).
A job that a scheduler has taken but not yet started stays ``accepted``; that it was
submitted shows in its scheduler id (the job table's ``backend_id``), not in another state,
so that every client of the JSON API keeps the states it knows.
"""
from __future__ import annotations

import enum


class JobState(str, enum.Enum):
    ACCEPTED = "accepted"
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DISMISSED = "dismissed"
    EXPIRED = "expired"

    @property
    def final(self) -> bool:
        return self not in (JobState.ACCEPTED, JobState.STARTED)

    def __str__(self) -> str:
        return self.value


ACTIVE_STATES: tuple[str, ...] = (JobState.ACCEPTED.value, JobState.STARTED.value)
FINAL_STATES: tuple[str, ...] = tuple(s.value for s in JobState if s.final)
