"""statusInfo: a job of the shared job table as OGC API – Processes reports it.

The job table has the WPS life cycle (accepted, started, succeeded, failed, dismissed, expired);
this API has accepted, running, successful, failed, dismissed.  An expired job is reported as
dismissed, with the message saying it expired (its results are gone either way).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Iterable

from .links import REL_RESULTS, link

STATUS_FROM_STATE = {"accepted": "accepted", "started": "running", "succeeded": "successful",
                     "failed": "failed", "dismissed": "dismissed", "expired": "dismissed"}
STATES_FOR_STATUS = {"accepted": ("accepted",), "running": ("started",), "successful": ("succeeded",),
                     "failed": ("failed",), "dismissed": ("dismissed", "expired")}
FINAL_STATUSES = ("successful", "failed", "dismissed")


def iso(value: _dt.datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")


def states_for(statuses: Iterable[str]) -> list[str]:
    """The job table's states for OGC API status names (unknown names: none)."""
    return [state for status in statuses for state in STATES_FOR_STATUS.get(status, ())]


def has_results(record: Any) -> bool:
    """Whether /jobs/{id}/results can answer with the job's outputs: an asynchronous job that succeeded.

    A synchronous job's results went to its client in the answer; the gateway keeps only its row.
    """
    return record.is_async and record.status == "succeeded"


def status_info(record: Any, base: str) -> dict[str, Any]:
    status = STATUS_FROM_STATE.get(record.status, "failed")
    href = f"{base}/jobs/{record.uuid}"
    info: dict[str, Any] = {"type": "process", "processID": record.process, "jobID": record.uuid,
                            "status": status, "message": record.message or "", "created": iso(record.created),
                            "progress": max(0, min(100, int(record.percent or 0)))}
    if record.started is not None:
        info["started"] = iso(record.started)
    if record.finished is not None:
        info["finished"] = iso(record.finished)
    info["updated"] = iso(record.finished or record.started or record.created)
    if record.expires is not None and status != "dismissed":
        info["expires"] = iso(record.expires)  # the gateway's EXPIRE: results are removed then
    if record.backend and record.backend != "local":
        info["backend"] = record.backend
    links = [link(href, "self", "application/json", "job status")]
    if has_results(record):
        links.append(link(href + "/results", REL_RESULTS, "application/json", "job results"))
    info["links"] = links
    return info
