"""The job list of this API: the shared job table filtered by process, status, time and scope.

``JobScope`` is the one place where who may see which job is decided: ``scope_for`` returns the
caller's scope (everything with identity off, or for an admin; the caller's own jobs otherwise) and
both the list query and single-job access (``JobScope.permits``) apply it.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Sequence

from sqlalchemy import and_, or_, select

from ..jobs import store as job_store
from .problems import invalid


@dataclass(frozen=True)
class JobScope:
    """The jobs a caller may see and dismiss: ``owner``'s, or all of them (None)."""

    owner: str | None = None

    def permits(self, record: Any) -> bool:
        return self.owner is None or getattr(record, "owner", None) == self.owner


def scope_for(handler: Any) -> JobScope:
    """The caller's scope (``handler.caller``, identified in prepare), for every job route at once."""
    access = handler.settings.get("access")
    if access is None or not access.on or handler.caller.admin:
        return JobScope()
    if handler.caller.user is None:  # a job route without a caller never gets this far; closed if one does
        return JobScope(owner="\x00nobody")
    return JobScope(owner=handler.caller.user)


@dataclass(frozen=True)
class JobQuery:
    processes: tuple[str, ...] = ()
    states: tuple[str, ...] | None = None  # job-table states; None: all, (): none can match
    created_from: _dt.datetime | None = None
    created_to: _dt.datetime | None = None
    limit: int = 10
    before: tuple[_dt.datetime, str] | None = None  # the cursor: (created, uuid) of the previous page's last job


def _moment(text: str, locator: str) -> _dt.datetime | None:
    if text in ("", ".."):
        return None
    try:
        moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise invalid(f"datetime must be an RFC 3339 instant or interval (a/b, ../b, a/..), not {text!r}",
                      locator) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)).astimezone(_dt.timezone.utc)


def parse_datetime(text: str) -> tuple[_dt.datetime | None, _dt.datetime | None]:
    """``datetime``: one instant, or an interval with ``..`` for an open end."""
    if len(text) > 100:
        raise invalid("datetime is too long", "datetime")
    if "/" in text:
        start, _, end = text.partition("/")
        return _moment(start, "datetime"), _moment(end, "datetime")
    moment = _moment(text, "datetime")
    return moment, moment


def parse_cursor(text: str) -> tuple[_dt.datetime, str]:
    try:
        created_text, uuid = text.split("_", 1)
        created = _dt.datetime.fromisoformat(created_text)
    except ValueError:
        raise invalid("cursor is not valid", "cursor") from None
    return (created if created.tzinfo else created.replace(tzinfo=_dt.timezone.utc)), uuid[:36]


def cursor_of(record: Any) -> str:
    return f"{record.created.astimezone(_dt.timezone.utc).replace(tzinfo=None).isoformat()}_{record.uuid}"


def list_jobs(store: Any, query: JobQuery, scope: JobScope) -> list[Any]:
    """Newest first, at most ``query.limit``; synchronous (run it on a worker thread).

    The store's own ``list`` takes one process and no time range; this reads the same table
    with the filters this API has, through the store's retrying read.
    """
    if query.states == ():
        return []
    table = job_store.jobs
    statement = select(table)
    if query.processes:
        statement = statement.where(table.c.process.in_(list(query.processes)))
    if query.states:
        statement = statement.where(table.c.status.in_(list(query.states)))
    if query.created_from is not None:
        statement = statement.where(table.c.created >= query.created_from)
    if query.created_to is not None:
        statement = statement.where(table.c.created <= query.created_to)
    if scope.owner is not None and "owner" in table.c:
        statement = statement.where(table.c.owner == scope.owner)
    if query.before is not None:
        created, uuid = query.before
        statement = statement.where(or_(table.c.created < created,
                                        and_(table.c.created == created, table.c.uuid < uuid)))
    statement = statement.order_by(table.c.created.desc(), table.c.uuid.desc()).limit(query.limit)
    return [job_store._record(row) for row in store._read(statement)]


def split_values(values: Sequence[str]) -> list[str]:
    """Query values given repeated or comma-separated (``status=a,b`` or ``status=a&status=b``)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
