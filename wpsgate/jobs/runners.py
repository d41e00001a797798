"""Where a job runs, behind one interface: the local pool and every batch scheduler implement it.

The engine (jobs.manager) picks a runner for a job and hands it over; the runner reports what
happens through the lifecycle's ``RunnerEvents``.  Nothing in the engine depends on which runner
it is: capabilities are attributes (``runs_inline``), not names.
"""
from __future__ import annotations

from typing import Protocol

from .lifecycle import Job, PersistOptions, RunnerEvents
from .runner import JobOutcome
from .store import ActiveRow
from ..protocol.documents import ResponseContext


class Runner(Protocol):
    name: str                 # the job table's ``backend`` column: local, slurm, drmaa
    persist: PersistOptions   # how its jobs are persisted before they are handed over
    runs_inline: bool         # synchronous jobs run at once without being persisted (run_inline)

    async def start(self, events: RunnerEvents) -> None:
        """Begin serving jobs; ``events`` is where their transitions are reported."""

    async def close(self) -> None: ...

    async def admit(self, job_is_async: bool) -> None:
        """Raise ServerBusy now when a job would be refused for capacity (before its inputs are staged)."""

    def check_before_persist(self) -> None:
        """Raise ServerBusy when the runner has no room (checked again as a job is handed over)."""

    def submit(self, job: Job) -> None:
        """Take a persisted job; returns at once (submission to a scheduler follows, batched)."""

    async def cancel(self, uuid: str) -> None:
        """Stop the job wherever it is: waiting, submitted, running (dismiss)."""

    async def resume(self, jobs: list[tuple[ActiveRow, ResponseContext]]) -> None:
        """After a restart: the runner's unfinished jobs, their rows read and checked (lifecycle.recover)."""

    async def run_inline(self, job: Job, wait: float) -> JobOutcome:
        """Run a synchronous job now, waiting up to ``wait`` s for room (only when ``runs_inline``)."""
