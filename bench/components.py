"""What the steps of an Execute cost on this machine, measured in-process with wpsgate's own code.

Not figures with targets: the numbers that explain the latency figures (what an async
accept or a sync Execute must wait for at least).  Each step is timed many times on
its own, in a fresh work folder on the same filesystem the gateway's spool uses; a
step whose function has changed shape since this was written is reported as not
measured rather than failing the run.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import time
from typing import Any, Callable

HELLO_SYNC = "service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=World"
HELLO_ASYNC = HELLO_SYNC + "&storeExecuteResponse=true&status=true"


def _median_ms(function: Callable[[int], Any], count: int) -> float:
    samples = []
    for index in range(count):
        started = time.perf_counter()
        function(index)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


class _Site:
    def __init__(self, workdir: str) -> None:
        from wpsgate.config import config_from_mapping
        from wpsgate.jobs.jobfile import load_or_create_key
        from wpsgate.jobs.store import JobStore
        from wpsgate.registry import load_processes
        from wpsgate.service import Urls, WPSService

        self.config = config_from_mapping({"server": {"workdir": workdir}}, environ={})
        os.makedirs(self.config.spool, exist_ok=True)
        self.key = load_or_create_key(os.path.join(self.config.workdir, "job.key"))
        self.store = JobStore(self.config.database_url)
        self.processes = load_processes(None)
        self.service = WPSService(self.config, self.processes, engine=None, urls=Urls("http://127.0.0.1:9"))

    def spec(self, query: str) -> Any:
        from wpsgate.protocol.kvp import parse_kvp

        return self.service.prepare(parse_kvp(query))[1]

    def manager(self) -> Any:
        """The lifecycle, whose steps the engine's accept and sync paths wait for."""
        from wpsgate.jobs.lifecycle import Lifecycle
        from wpsgate.jobs.serial import SerialExecutor

        return Lifecycle(store=self.store, spool=self.config.spool, key=self.key, io=SerialExecutor())


def measure(workdir: str, count: int = 200, log=print) -> dict[str, float | str]:
    """Median ms of each step; a string says why a step was not measured."""
    from wpsgate.jobs.folder import JobFolder, atomic_write
    from wpsgate.jobs.store import now
    from wpsgate.protocol.documents import JobStatus, render_execute_response

    os.makedirs(workdir, exist_ok=True)
    site = _Site(workdir)
    scratch = os.path.join(workdir, "scratch")
    os.makedirs(scratch, exist_ok=True)
    document = b"<x>" + b"y" * 3000 + b"</x>"
    out: dict[str, float | str] = {}

    def step(name: str, function: Callable[[int], Any], n: int = count) -> None:
        try:
            out[name] = _median_ms(function, n)
        except Exception as exc:  # the internals moved: say so, keep the run
            out[name] = f"not measured ({type(exc).__name__}: {exc})"[:200]

    step("atomic write of a 3 kB document with fsync (atomic_write durable)",
         lambda i: atomic_write(os.path.join(scratch, f"d{i}"), document, True))
    step("the same without fsync", lambda i: atomic_write(os.path.join(scratch, f"n{i}"), document, False))
    step("job folder created and removed (JobFolder.create, rmtree)",
         lambda i: shutil.rmtree(JobFolder(scratch, f"00000000-0000-4000-8000-{i:012d}").create().path))
    accepted_spec = site.spec(HELLO_ASYNC)
    step("render ProcessAccepted (render_execute_response)",
         lambda i: render_execute_response(accepted_spec.context, JobStatus("accepted", "Process accepted")))

    def insert(i: int) -> None:
        site.store.insert(uuid=f"10000000-0000-4000-8000-{i:012d}", process="hello", status="accepted", percent=0,
                          message="waiting in queue", created=now(), expire_seconds=86400.0, timeout=3600.0,
                          backend="local", is_async=True, request="{}", outputs="[]", context=b"c" * 900)
    step("job row insert (JobStore.insert, SQLite in WAL mode)", insert)
    step("job row update (JobStore.update)", lambda i: site.store.update(
        f"10000000-0000-4000-8000-{i:012d}", True, status="started", started=now(), message="started"))
    step("job row read (JobStore.get)", lambda i: site.store.get(f"10000000-0000-4000-8000-{i:012d}"))
    manager = site.manager()
    specs = [site.spec(HELLO_ASYNC) for _ in range(count)]
    from wpsgate.jobs.lifecycle import Job, PersistOptions

    step("an async job persisted before ProcessAccepted (Lifecycle.persist_now: folder, signed job file, "
         "ProcessAccepted, job row)",
         lambda i: manager.persist_now(Job(specs[i], 3600.0, 86400.0), "local", PersistOptions()))
    try:
        out.update(asyncio.run(_pool_steps(site, manager, count)))
    except Exception as exc:
        out["a warm worker's round trip for sync hello (WorkerPool.run)"] = (
            f"not measured ({type(exc).__name__}: {exc})"[:200])
    finally:
        manager.io.shutdown()
        site.store.close()
    return out


async def _pool_steps(site: _Site, manager: Any, count: int) -> dict[str, float]:
    from wpsgate.backends.local import WorkerPool

    pool = WorkerPool(1, site.config.processes)
    await pool.start()
    try:
        trips, records = [], []
        for index in range(count):
            spec = site.spec(HELLO_SYNC)
            worker = await pool.acquire()
            started = time.perf_counter()
            outcome = await pool.run(worker, spec, None, 60)
            trips.append(time.perf_counter() - started)
            started = time.perf_counter()
            manager.record_sync(spec, outcome, outcome.started, 3600.0, 86400.0, "local", False)
            records.append(time.perf_counter() - started)
    finally:
        await pool.close()
    return {"a warm worker's round trip for sync hello (WorkerPool.run: pickle, pipe, run_job, pipe)":
            statistics.median(trips) * 1000,
            "a sync job recorded before its answer (Lifecycle.record_sync: folder removed, job row)":
            statistics.median(records) * 1000}
