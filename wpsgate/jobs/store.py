"""The job table: the index of all jobs (the job folder is the truth of one job).

SQLAlchemy Core over SQLite by default (WAL, so readers never wait for the
writer), any SQLAlchemy URL otherwise.  Every method is synchronous and meant to
run in the gateway's single database thread, never on the event loop.
"""
from __future__ import annotations

import datetime as _dt
import functools
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

from sqlalchemy import (Boolean, Column, DateTime, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text, and_,
                        bindparam, create_engine, event, func, inspect, literal_column, or_, select, type_coerce, update)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.types import NullType

log = logging.getLogger("wpsgate.store")

from .states import ACTIVE_STATES, FINAL_STATES  # noqa: E402 - re-exported

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
    Column("owner", String(255)),
    Column("cpu_seconds", Float),  # what the job cost, from its final record: kept when its folder expires
    Column("peak_memory_mb", Float),
    Index("ix_jobs_status_created", "status", "created"),
    Index("ix_jobs_process_created", "process", "created"),
    Index("ix_jobs_created", "created"),
    Index("ix_jobs_expires", "expires"),
    Index("ix_jobs_owner_created", "owner", "created"),
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
    owner: str | None = None
    cpu_seconds: float | None = None
    peak_memory_mb: float | None = None


@dataclass
class ActiveRow:
    """An unfinished job as recovery reads it after a restart: only the columns recovery needs.

    The table may be shared (PostgreSQL) or its file writable by others, so recovery trusts no
    column: each is read raw and checked here, and a row that does not hold what it should gets a
    ``problem`` (the job is then failed with it) instead of stopping the gateway's start.
    """

    uuid: str
    status: str
    backend_id: str | None
    timeout: float
    expire_seconds: float
    context: bytes | None
    problem: str = ""
    owner: str | None = None  # for the per-user counts (a value that is not a name counts for nobody)


_BACKEND_ID = re.compile(r"[A-Za-z0-9._:@\[\]-]{1,64}")


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _active_row(raw: Any) -> ActiveRow:
    uuid, status, backend_id, timeout, expire, context, owner = raw
    problems = []
    if not isinstance(uuid, str) or not _UUID_TEXT.fullmatch(uuid):
        problems.append("its id is not a job id")
    if backend_id is not None and not (isinstance(backend_id, str) and _BACKEND_ID.fullmatch(backend_id)):
        problems.append("its scheduler job id is not an id")
        backend_id = None
    if _seconds(timeout) is None:
        problems.append("its timeout is not a number of seconds")
    if _seconds(expire) is None:
        problems.append("its expiry is not a number of seconds")
    if isinstance(context, str):  # text stored in the binary column (SQLite keeps what it is given)
        context = context.encode("utf-8", errors="replace")
    elif context is not None and not isinstance(context, (bytes, bytearray, memoryview)):
        problems.append("its request context is not bytes")
        context = None
    return ActiveRow(uuid=str(uuid), status=str(status), backend_id=backend_id, timeout=_seconds(timeout) or 0.0,
                     expire_seconds=_seconds(expire) or 0.0, context=bytes(context) if context is not None else None,
                     owner=owner if isinstance(owner, str) and 0 < len(owner) <= 255 else None,
                     problem=("the job's record cannot be read: " + "; ".join(problems)) if problems else "")


_UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


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


def migrate(engine: Engine) -> None:
    """Bring a table written by an older version up to this one, in place (no job is lost).

    ``create_all`` creates what is missing but never alters an existing table, so each column
    added since the first version is added here, with its index, when it is absent.
    """
    present = {column["name"] for column in inspect(engine).get_columns("jobs")}
    missing = [column for column in jobs.columns if column.name not in present]
    if not missing:
        return
    with engine.begin() as connection:
        for column in missing:
            kind = column.type.compile(dialect=engine.dialect)
            connection.exec_driver_sql(f"ALTER TABLE jobs ADD COLUMN {column.name} {kind}")
            log.info("job store migrated: column %r added", column.name)
        for index in jobs.indexes:
            if any(column.name in index.columns for column in missing):
                index.create(connection, checkfirst=True)


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
        self._retrying(lambda: migrate(self.engine), self.write_retry)

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
             process: str | None = None, before: tuple[_dt.datetime, str] | None = None,
             owner: str | None = None) -> list[JobRecord]:
        """Newest first; ``before`` is a cursor (created, uuid) of the last job of the previous page;
        ``owner``: only that user's jobs."""
        query = select(jobs)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
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

    def active(self, backend: str | None = None) -> list[ActiveRow]:
        """Every unfinished job (of ``backend``), oldest first, each column read raw and checked
        (no column's type conversion can fail, so no row can stop a restart)."""
        columns = [type_coerce(jobs.c[name], NullType()) for name in
                   ("uuid", "status", "backend_id", "timeout", "expire_seconds", "context", "owner")]
        query = select(*columns).where(jobs.c.status.in_(ACTIVE_STATES))
        if backend:
            query = query.where(jobs.c.backend == backend)
        return [_active_row(tuple(row)) for row in self._read(query.order_by(jobs.c.created, jobs.c.uuid))]

    def expired(self, moment: _dt.datetime, limit: int = 500) -> list[JobRecord]:
        query = (select(jobs).where(and_(jobs.c.expires.is_not(None), jobs.c.expires <= moment,
                                         jobs.c.status.in_(("succeeded", "failed", "dismissed"))))
                 .order_by(jobs.c.expires).limit(limit))
        return [_record(row) for row in self._read(query)]
