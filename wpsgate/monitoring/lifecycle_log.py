"""One INFO line per job event: what an operator greps for, and what a log shipper indexes.

``job 3f2c... submitted: process=regrid backend=slurm scheduler_id=4711``.  The text line
names the job, the event and the fields that matter for it; the same fields travel
on the record (``json_log.FIELDS_ATTRIBUTE``) so that ``logging.format: json`` writes
them as top-level keys.  Failures are logged at INFO too (the job failed, not the
gateway) with the reason; scheduler calls that failed are WARNINGs.  Progress events
are DEBUG: a job may report hundreds.

Values a client chose (the reason may quote a client's input) are quoted with
``repr``-style escaping, so a line break in them cannot forge a log line.
"""
from __future__ import annotations

import logging
from typing import Any

from .events import SCHEDULER_KINDS
from .json_log import FIELDS_ATTRIBUTE

LOGGER = "wpsgate.jobs.lifecycle"
MAX_REASON = 500


def _quoted(text: str) -> str:
    text = text if len(text) <= MAX_REASON else text[:MAX_REASON] + "..."
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def event_fields(event: Any) -> dict[str, Any]:
    """The structured fields of an event (None and empty values left out)."""
    fields: dict[str, Any] = {"event": getattr(event, "kind", "")}
    for name in ("job_id", "process", "backend", "scheduler_id", "reason", "user", "client", "percent"):
        value = getattr(event, name, None)
        if value not in (None, ""):
            fields[name] = value
    if getattr(event, "kind", "") in SCHEDULER_KINDS:
        fields["duration"] = round(float(getattr(event, "duration", 0.0)), 6)
        fields["ok"] = bool(getattr(event, "ok", True))
    return fields


def format_event(event: Any) -> str:
    """The text line of an event."""
    fields = event_fields(event)
    kind = fields.pop("event")
    job = fields.pop("job_id", None)
    head = f"job {job} {kind}" if job else kind
    parts = []
    for name, value in fields.items():
        if name in ("reason", "user", "client"):
            value = _quoted(str(value))
        elif name == "duration":
            value = f"{value:.3f}s"
        parts.append(f"{name}={value}")
    return head + (": " + " ".join(parts) if parts else "")


def level_of(event: Any) -> int:
    kind = getattr(event, "kind", "")
    if kind == "progress":
        return logging.DEBUG
    if kind in SCHEDULER_KINDS:
        return logging.DEBUG if getattr(event, "ok", True) else logging.WARNING
    return logging.INFO


class LifecycleLog:
    """The observer that writes the lifecycle log; ``observe(event)`` for every job event."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger(LOGGER)

    def observe(self, event: Any) -> None:
        level = level_of(event)
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s", format_event(event), extra={FIELDS_ATTRIBUTE: event_fields(event)})
