"""The job table: the index of all jobs (the job folder is the truth of one job).

SQLAlchemy Core over SQLite by default (WAL, so readers never wait for the
writer), any SQLAlchemy URL otherwise.  Every method is synchronous and meant to
run in the gateway's single database thread, never on the event loop.
"""
from __future__ import annotations

import datetime as _dt
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text, and_,
                        bindparam, create_engine, event, func, literal_column, or_, select, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

log = logging.getLogger("wpsgate.store")

FINAL_STATES = ("succeeded", "failed", "dismissed", "expired")
ACTIVE_STATES = ("accepted", "started")

metadata = MetaData()
jobs = Table(
    "jobs", metadata,
    Column("uuid", String(36), primary_key=True),
    Column("process", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("percent", Integer, nullable=False, default=0),
    Column("message", Text, nullable=False, default=""),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("started", DateTime(timezone=True)),
    Column("finished", DateTime(timezone=True)),
    Column("expires", DateTime(timezone=True)),
    Column("expire_seconds", Float, nullable=False, default=0),
    Column("timeout", Float, nullable=False, default=0),
    Column("backend", String(16), nullable=False, default="local"),
    Column("backend_id", String(64)),
    Column("is_async", Boolean, nullable=False, default=True),
    Column("request", Text, nullable=False, default=""),
    Column("outputs", Text, nullable=False, default=""),
    Column("context", LargeBinary),
    Index("ix_jobs_status_created", "status", "created"),
    Index("ix_jobs_process_created", "process", "created"),
    Index("ix_jobs_created", "created"),
    Index("ix_jobs_expires", "expires"),
)


@dataclass
class JobRecord:
    uuid: str
    process: str
    status: str
    percent: int
    message: str
    created: _dt.datetime
    started: _dt.datetime | None
    finished: _dt.datetime | None
    expires: _dt.datetime | None
    expire_seconds: float
    timeout: float
    backend: str
    backend_id: str | None
    is_async: bool
    request: str
    outputs: str
    context: bytes | None = None


def _utc(value: _dt.datetime | None) -> _dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value


def _record(row: Any) -> JobRecord:
    data = dict(row._mapping)
    for key in ("created", "started", "finished", "expires"):
        data[key] = _utc(data[key])
    return JobRecord(**data)


_INSERT = jobs.insert()


@functools.lru_cache(maxsize=128)
def _update_statement(columns: tuple[str, ...], only_if_active: bool) -> Any:
    """One prepared UPDATE per set of columns: built and cache-keyed once, executed with parameters
    (for a burst of jobs, building a statement per update costs more than running it)."""
    condition = jobs.c.uuid == bindparam("_uuid")
    if only_if_active:  # constants, not an expanding IN: the statement also serves executemany
        condition = and_(condition, jobs.c.status.in_([literal_column(f"'{state}'") for state in ACTIVE_STATES]))
    return update(jobs).where(condition).values({column: bindparam(column) for column in columns})


class StoreUnavailable(Exception):
    """The database could not be reached, even after retrying for a while."""


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class JobStore:
    """The job table.  A database that goes away for a while (a PostgreSQL restart, a locked
    SQLite file) is retried: writes for up to ``write_retry`` seconds, so that state converges
    once it is back, reads for up to ``read_retry`` seconds; then StoreUnavailable."""

    def __init__(self, url: str, write_retry: float = 30.0, read_retry: float = 2.0) -> None:
        # Pre-pinging finds connections a database server dropped; a SQLite file has no server.
        self.engine: Engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
        self.write_retry = write_retry
        self.read_retry = read_retry
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", self._sqlite_pragmas)
        self._retrying(lambda: metadata.create_all(self.engine), self.write_retry)

    def _retrying(self, work: Callable[[], T], budget: float, duplicate_ok: bool = False) -> T:
        deadline = time.monotonic() + budget
        delay, attempt = 0.1, 0
        while True:
            attempt += 1
            try:
                return work()
            except IntegrityError:
                if duplicate_ok and attempt > 1:  # an earlier attempt committed before the connection broke
                    return None  # type: ignore[return-value]
                raise
            except (OperationalError, InterfaceError) as exc:
                if time.monotonic() + delay > deadline:
                    raise StoreUnavailable(f"the job store is unavailable: {getattr(exc, 'orig', exc)}") from None
                log.warning("job store unavailable (attempt %d), retrying: %s", attempt, getattr(exc, "orig", exc))
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    @staticmethod
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    def close(self) -> None:
        self.engine.dispose()

    def _write(self, statement: Any, parameters: Any = None, duplicate_ok: bool = False) -> int:
        def work() -> int:
            with self.engine.begin() as connection:
                return connection.execute(statement, parameters).rowcount
        return self._retrying(work, self.write_retry, duplicate_ok) or 0

    def _read(self, statement: Any) -> list[Any]:
        def work() -> list[Any]:
            with self.engine.connect() as connection:
                return list(connection.execute(statement))
        return self._retrying(work, self.read_retry)

    def insert(self, **values: Any) -> None:
        self._write(_INSERT, values, duplicate_ok=True)

    def update(self, uuid: str, only_if_active: bool = False, **values: Any) -> bool:
        """Update one job; with ``only_if_active`` a final state is never overwritten."""
        statement = _update_statement(tuple(sorted(values)), only_if_active)
        return self._write(statement, dict(values, _uuid=uuid)) > 0

    def update_active_many(self, updates: dict[str, dict[str, Any]]) -> None:
        """Several jobs' updates in one transaction; a job already in a final state is left alone."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for uuid, values in updates.items():
            groups.setdefault(tuple(sorted(values)), []).append(dict(values, _uuid=uuid))

        def work() -> None:
            with self.engine.begin() as connection:
                for columns, rows in groups.items():
                    connection.execute(_update_statement(columns, True), rows)
        self._retrying(work, self.write_retry)

    def get(self, uuid: str) -> JobRecord | None:
        rows = self._read(select(jobs).where(jobs.c.uuid == uuid))
        return _record(rows[0]) if rows else None

    def list(self, limit: int = 50, offset: int = 0, status: Iterable[str] | None = None,
             process: str | None = None, before: tuple[_dt.datetime, str] | None = None) -> list[JobRecord]:
        """Newest first; ``before`` is a cursor (created, uuid) of the last job of the previous page."""
        query = select(jobs)
        if status:
            query = query.where(jobs.c.status.in_(list(status)))
        if process:
            query = query.where(jobs.c.process == process)
        if before is not None:
            created, uuid = before
            query = query.where(or_(jobs.c.created < created, and_(jobs.c.created == created, jobs.c.uuid < uuid)))
        query = query.order_by(jobs.c.created.desc(), jobs.c.uuid.desc()).limit(limit).offset(offset)
        return [_record(row) for row in self._read(query)]

    def count(self, status: Iterable[str] | None = None, process: str | None = None) -> int:
        query = select(func.count()).select_from(jobs)
        if status:
            query = query.where(jobs.c.status.in_(list(status)))
        if process:
            query = query.where(jobs.c.process == process)
        return int(self._read(query)[0][0])

    def active(self, backend: str | None = None) -> list[JobRecord]:
        query = select(jobs).where(jobs.c.status.in_(ACTIVE_STATES))
        if backend:
            query = query.where(jobs.c.backend == backend)
        return [_record(row) for row in self._read(query.order_by(jobs.c.created, jobs.c.uuid))]

    def expired(self, moment: _dt.datetime, limit: int = 500) -> list[JobRecord]:
        query = (select(jobs).where(and_(jobs.c.expires.is_not(None), jobs.c.expires <= moment,
                                         jobs.c.status.in_(("succeeded", "failed", "dismissed"))))
                 .order_by(jobs.c.expires).limit(limit))
        return [_record(row) for row in self._read(query)]
