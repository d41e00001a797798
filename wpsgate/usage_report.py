"""``wpsgate usage``: per user, jobs by outcome, wall seconds, CPU seconds and peak memory.

The figures come from the job table: each job's row keeps its owner, its start and end, and
the CPU seconds and peak memory of its final record (written when the job ends, so they
survive the expiry of its folder).  Rows from before those columns existed get them from the
job's final record (``result.json``) while its folder is still there; once it has expired,
their CPU and memory are unknown and are counted as such (``jobs_without_figures``).
An expired job is counted under the outcome it had (read from its row's message).

Wall seconds are from start to end of each job that started; CPU seconds and peak memory are
what the job's handler used where it ran (jobs.usage), not the scheduler's accounting.
"""
from __future__ import annotations

import collections
import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, TextIO

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from .jobs.folder import JobFolder, is_job_id
from .jobs.store import JobStore, StoreUnavailable, jobs

ANONYMOUS = "(anonymous)"
_EXPIRED_OUTCOME = re.compile(r"\((succeeded|failed|dismissed) before\)")


@dataclass
class UserUsage:
    user: str
    jobs: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: collections.defaultdict(int))
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0
    peak_memory_mb: float | None = None
    jobs_without_figures: int = 0  # ended jobs whose CPU and memory are not known (see the module's docs)

    def add(self, outcome: str, wall: float | None, cpu: float | None, peak: float | None, ended: bool) -> None:
        self.jobs += 1
        self.outcomes[outcome] += 1
        self.wall_seconds += wall or 0.0
        if cpu is not None:
            self.cpu_seconds += cpu
        if peak is not None:
            self.peak_memory_mb = max(self.peak_memory_mb or 0.0, peak)
        if ended and cpu is None and wall:
            self.jobs_without_figures += 1

    def as_dict(self) -> dict[str, Any]:
        return {"user": self.user, "jobs": self.jobs, "outcomes": dict(sorted(self.outcomes.items())),
                "wall_seconds": round(self.wall_seconds, 3), "cpu_seconds": round(self.cpu_seconds, 3),
                "peak_memory_mb": self.peak_memory_mb, "jobs_without_figures": self.jobs_without_figures}


def outcome_of(status: str, message: str) -> str:
    """The outcome a job had: its state, or for an expired job the state it had before its files went."""
    if status == "expired":
        match = _EXPIRED_OUTCOME.search(message or "")
        return match.group(1) if match else "expired"
    return status


def _utc(value: _dt.datetime | None) -> _dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=_dt.timezone.utc)
    return value


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else None


def collect(store: JobStore, spool: str, since: _dt.datetime | None = None,
            user: str | None = None) -> list[UserUsage]:
    """Usage per user of the jobs created since ``since`` (of ``user`` only, when given), by user name."""
    query = select(jobs.c.uuid, jobs.c.owner, jobs.c.status, jobs.c.message, jobs.c.started, jobs.c.finished,
                   jobs.c.cpu_seconds, jobs.c.peak_memory_mb)
    if since is not None:
        query = query.where(jobs.c.created >= since)
    if user is not None:
        query = query.where(jobs.c.owner == user)
    users: dict[str, UserUsage] = {}
    with store.engine.connect() as connection:
        rows = list(connection.execute(query))
    for uuid, owner, status, message, started, finished, cpu, peak in rows:
        started, finished = _utc(started), _utc(finished)
        ended = finished is not None and status not in ("accepted", "started")
        wall = (finished - started).total_seconds() if ended and started is not None else None
        cpu, peak = _number(cpu), _number(peak)
        if ended and cpu is None and status != "expired" and isinstance(uuid, str) and is_job_id(uuid):
            record = JobFolder(spool, uuid).read_final()  # rows written before the usage columns existed
            if record is not None:
                cpu, peak = _number(record.cpu_seconds), _number(record.peak_memory_mb)
        name = owner if isinstance(owner, str) and owner else ANONYMOUS
        usage = users.setdefault(name, UserUsage(name))
        usage.add(outcome_of(str(status), str(message or "")), wall if wall and wall > 0 else None, cpu, peak,
                  ended)
    return [users[name] for name in sorted(users)]


def parse_since(text: str) -> _dt.datetime:
    """A date (2026-01-31) or date and time (2026-01-31T12:00, with or without a zone; UTC when none)."""
    try:
        moment = _dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since {text!r} is not a date like 2026-01-31 or 2026-01-31T12:00:00Z") from None
    return _utc(moment)


def render_table(usages: Iterable[UserUsage], out: TextIO) -> None:
    usages = list(usages)
    outcomes = sorted({name for usage in usages for name in usage.outcomes})
    header = ["user", "jobs", *outcomes, "wall s", "cpu s", "peak MB"]
    rows = [[u.user, str(u.jobs), *(str(u.outcomes.get(name, 0)) for name in outcomes), f"{u.wall_seconds:.1f}",
             f"{u.cpu_seconds:.1f}", "" if u.peak_memory_mb is None else f"{u.peak_memory_mb:.1f}"] for u in usages]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths))).rstrip(), file=out)
    missing = sum(u.jobs_without_figures for u in usages)
    if missing:
        print(f"({missing} ended job(s) without CPU and memory figures: their folders expired before this "
              "version kept the figures in the job table)", file=out)


def run(config_path: str | None, overrides: dict, since: str | None, user: str | None, as_json: bool,
        out: TextIO) -> int:
    """The command: reads the configuration's job table and spool; exit status 2 for a bad argument."""
    import sys

    from .config import ConfigError, load_config

    try:
        config = load_config(config_path, overrides=overrides)
        moment = parse_since(since) if since else None
    except (ConfigError, ValueError) as exc:
        print(f"wpsgate usage: {exc}", file=sys.stderr)
        return 2
    url = config.database_url
    if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
        print(f"wpsgate usage: there is no job store at {url[len('sqlite:///'):]} (see --config, --workdir)",
              file=sys.stderr)
        return 1
    try:
        store = JobStore(url, write_retry=2.0, read_retry=2.0)
        try:
            usages = collect(store, config.spool, moment, user)
        finally:
            store.close()
    except (StoreUnavailable, SQLAlchemyError) as exc:
        print(f"wpsgate usage: {exc}", file=sys.stderr)
        return 1
    if as_json:
        json.dump({"since": moment.isoformat() if moment else None, "user": user,
                   "users": [u.as_dict() for u in usages]}, out, indent=1)
        out.write("\n")
    else:
        render_table(usages, out)
    return 0
