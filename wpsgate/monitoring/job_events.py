"""The job engine's lifecycle events, handed to the monitoring observers (log lines and metrics).

The engine's events (``wpsgate.jobs.events``) name a job by ``uuid`` and its runner by
``runner``; the monitoring adapters read the fields of ``monitoring.events.JobEvent``.  This
is the one place that translates, so that neither side has to know the other's names.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .events import JobEvent


def monitoring_event(event: Any) -> JobEvent:
    """The monitoring view of one lifecycle event."""
    percent = getattr(event, "percent", None)
    return JobEvent(kind=event.kind, job_id=event.uuid, process=getattr(event, "process", "") or "",
                    backend=getattr(event, "runner", "") or "",
                    scheduler_id=getattr(event, "scheduler_id", None) or "",
                    reason=getattr(event, "reason", "") or getattr(event, "message", "") or "",
                    percent=percent if isinstance(percent, int) else None,
                    duration=float(getattr(event, "duration", 0.0) or 0.0), ok=bool(getattr(event, "ok", True)))


def forward_to(observers: Iterable[Callable[[JobEvent], None]]) -> Callable[[Any], None]:
    """One engine observer that translates each event once and tells every monitoring observer."""
    targets = tuple(observers)

    def observe(event: Any) -> None:
        translated = monitoring_event(event)
        for target in targets:
            target(translated)
    return observe
