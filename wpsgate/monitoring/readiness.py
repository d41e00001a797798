"""Is the gateway ready to take jobs?  The job store is writable, the spool is writable, the scheduler answers.

Each probe is a coroutine that returns nothing when all is well and raises
``ProbeFailed`` (or anything else) when not.  A readiness check runs the probes
concurrently, each with a timeout, off the event loop; it is coalesced (callers
arriving while a check runs share it) and its result is kept for ``ttl`` seconds,
so a client hammering ``/health/ready`` costs one check per ``ttl``, never one
subprocess or database round trip per request.  A probe whose previous call is
still hanging (a database that does not answer) is not called again: it reports
the wait instead, so hung checks never pile up threads.

What clients see is deliberately terse (``ok`` and a fixed sentence per probe); the
underlying error, which may name hosts, ports or paths, goes to the log.
"""
from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

log = logging.getLogger("wpsgate.health")

Probe = Callable[[], Awaitable[None]]


class ProbeFailed(Exception):
    """A probe's negative answer; the message is for the log."""


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    summary: str  # what a client may read


@dataclass(frozen=True)
class Readiness:
    ready: bool
    results: tuple[ProbeResult, ...]
    checked: float  # time.time() of the check

    def as_json(self) -> dict[str, Any]:
        return {"status": "ready" if self.ready else "unready",
                "checks": {r.name: {"ok": r.ok, "detail": r.summary} for r in self.results}}


@dataclass(frozen=True)
class NamedProbe:
    name: str
    probe: Probe
    failure: str  # the sentence clients read when it fails
    cancel_on_timeout: bool = False  # a subprocess is killed; a thread cannot be, so it is waited for


class ReadinessCheck:
    """Runs the probes; coalesced and cached (see the module's docstring)."""

    def __init__(self, probes: Sequence[NamedProbe], timeout: float = 5.0, ttl: float = 1.0) -> None:
        self.probes = tuple(probes)
        self.timeout = timeout
        self.ttl = ttl
        self._last: Readiness | None = None
        self._last_at = 0.0
        self._running: asyncio.Future | None = None
        self._hanging: dict[str, tuple[asyncio.Task, float]] = {}

    async def check(self) -> Readiness:
        last = self._last
        if last is not None and time.monotonic() - self._last_at < self.ttl:
            return last
        if self._running is None or self._running.done():
            self._running = asyncio.ensure_future(self._check())
        return await asyncio.shield(self._running)

    async def _check(self) -> Readiness:
        results = tuple(await asyncio.gather(*(self._run(p) for p in self.probes)))
        readiness = Readiness(all(r.ok for r in results), results, time.time())
        self._last, self._last_at = readiness, time.monotonic()
        return readiness

    async def _run(self, named: NamedProbe) -> ProbeResult:
        hanging = self._hanging.get(named.name)
        if hanging is not None and not hanging[0].done():
            waited = time.monotonic() - hanging[1]
            log.warning("readiness: %s: the previous check has not answered for %.0f s", named.name, waited)
            return ProbeResult(named.name, False, f"{named.failure} (no answer for {waited:.0f} s)")
        task = asyncio.ensure_future(named.probe())
        try:
            await asyncio.wait_for(asyncio.shield(task), self.timeout)
        except asyncio.TimeoutError:
            if named.cancel_on_timeout:
                task.cancel()
            else:
                self._hanging[named.name] = (task, time.monotonic() - self.timeout)
            task.add_done_callback(_consume)
            log.warning("readiness: %s: no answer within %g s", named.name, self.timeout)
            return ProbeResult(named.name, False, f"{named.failure} (no answer within {self.timeout:g} s)")
        except Exception as exc:  # any failure of a probe is an unready answer, never a 500
            log.warning("readiness: %s: %s", named.name, _first_line(exc))
            return ProbeResult(named.name, False, named.failure)
        self._hanging.pop(named.name, None)
        return ProbeResult(named.name, True, "ok")


def _consume(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)  # SQLAlchemy wraps the driver's error (and appends the statement)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# --- probes --------------------------------------------------------------------------------------------------

_PROBE_THREADS = ThreadPoolExecutor(max_workers=3, thread_name_prefix="wpsgate-health")


def in_thread(function: Callable[[], None]) -> Probe:
    """A probe from a blocking function (run on the probes' own threads, never the event loop)."""
    async def probe() -> None:
        await asyncio.get_running_loop().run_in_executor(_PROBE_THREADS, function)
    return probe


def store_probe(engine: Any, table: str = "jobs") -> Probe:
    """The job store takes a write: an UPDATE that matches no row, rolled back.

    It needs a connection and the write lock (SQLite) or a writable transaction
    (PostgreSQL: a read-only standby or a read-only transaction refuses it), and changes nothing.
    """
    from sqlalchemy import text

    statement = text(f"UPDATE {table} SET status = status WHERE 1 = 0")

    def write() -> None:
        with engine.connect() as connection:
            transaction = connection.begin()
            try:
                connection.execute(statement)
            finally:
                transaction.rollback()
    return in_thread(write)


def folder_probe(path: str) -> Probe:
    """A file can be created, written, synced and removed in ``path`` (the spool)."""
    def write() -> None:
        handle, name = tempfile.mkstemp(prefix=".health-", dir=path)
        try:
            os.write(handle, b"ok")
            os.fsync(handle)
        finally:
            os.close(handle)
            os.unlink(name)
    return in_thread(write)


def command_probe(argv: Sequence[str], env: dict[str, str] | None = None) -> Probe:
    """A scheduler command that needs the controller (e.g. ``sinfo``) exits 0; run without a shell."""
    async def probe() -> None:
        try:
            process = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                           stdout=asyncio.subprocess.DEVNULL,
                                                           stderr=asyncio.subprocess.PIPE, env=env)
        except OSError as exc:
            raise ProbeFailed(f"{argv[0]}: {exc.strerror or exc}") from None
        try:
            _, stderr = await process.communicate()
        except asyncio.CancelledError:
            if process.returncode is None:
                process.kill()
            raise
        if process.returncode != 0:
            raise ProbeFailed(f"{' '.join(argv)} exited with {process.returncode}: "
                              f"{stderr.decode(errors='replace').strip()[:300]}")
    return probe


def backend_probe(call: Callable[..., Awaitable[Any]], check: Callable[[], None]) -> Probe:
    """``check`` run through ``call`` (e.g. on the scheduler runner's own thread, where a DRMAA
    session must be used)."""
    async def probe() -> None:
        await call(check)
    return probe
