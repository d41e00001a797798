"""A gateway with 100,000 jobs in its store: the /status/ page latency and the gateway's memory.

The rows are inserted into the gateway's SQLite file before it starts, with the
store's own table definition (wpsgate.jobs.store), and look like a busy week: jobs
created over the last seven days, mostly finished (succeeded, some failed, a few
dismissed), those past their expiry already marked expired, as the cleanup leaves
them; asynchronous ones carry their pickled response context as the engine stores it.
No job folders are created (the list API reads only the table).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import pickle
import random
import time
import uuid as _uuid

from . import httpclient
from .http_figures import sequential
from .results import Figure, Results, Target
from .servers import WpsgateServer
from .stats import percentile

_PROCESSES = [("hello", "Say Hello", ["name"], "output", 30), ("ultimate_question", "Answer to the ultimate question",
              [], "answer", 15), ("sleep", "Sleep Process", ["delay"], "sleep_output", 15),
              ("wordcounter", "Word Counter", ["text"], "output", 20), ("inout", "In and Out", ["string"], "string", 10),
              ("binaryoperatorfornumbers", "Binary Operator for Numbers", ["inputa", "inputb", "operator"], "output",
               10)]


def _context_blob() -> bytes:
    """A real pickled ResponseContext, as JobManager stores it for an async job."""
    from wpsgate.config import config_from_mapping
    from wpsgate.protocol.kvp import parse_kvp
    from wpsgate.registry import load_processes
    from wpsgate.service import Urls, WPSService

    config = config_from_mapping({"server": {"workdir": "/nonexistent"}}, environ={})
    service = WPSService(config, load_processes(None), engine=None, urls=Urls("http://127.0.0.1:5000"))
    _process, spec, _timeout, _expire = service.prepare(parse_kvp(
        "service=WPS&request=Execute&version=1.0.0&identifier=hello&DataInputs=name=World"
        "&storeExecuteResponse=true&status=true"))
    return pickle.dumps(spec.context)


def rows(count: int, seed: int = 42) -> list[dict]:
    rng = random.Random(seed)
    context = _context_blob()
    now = _dt.datetime.now(_dt.timezone.utc)
    weights = [p[4] for p in _PROCESSES]
    out = []
    for _ in range(count):
        identifier, title, inputs, output, _weight = rng.choices(_PROCESSES, weights)[0]
        created = now - _dt.timedelta(seconds=rng.uniform(60, 7 * 86400))
        started = created + _dt.timedelta(seconds=rng.uniform(0.001, 2))
        finished = started + _dt.timedelta(seconds=rng.uniform(0.01, 60))
        expire = rng.choices([86400.0, 7 * 86400.0, 30 * 86400.0], [60, 30, 10])[0]
        expires = finished + _dt.timedelta(seconds=expire)
        is_async = rng.random() < 0.8
        roll = rng.random()
        status, percent, message = "succeeded", 100, f"Process {title} finished"
        outputs = json.dumps([f"{output}.txt"] if rng.random() < 0.3 else [])
        if roll > 0.99:
            status, percent, message, outputs = "dismissed", rng.randint(0, 80), "dismissed by request", "[]"
        elif roll > 0.91:
            status, percent, message, outputs = "failed", rng.randint(0, 80), "process raised ValueError: bad input", "[]"
        if expires <= now and status != "dismissed":
            message = f"expired; the results were removed ({status} before)"
            status = "expired"
        backend = "local" if rng.random() < 0.7 else "slurm"
        out.append({
            "uuid": str(_uuid.UUID(int=rng.getrandbits(128), version=4)), "process": identifier, "status": status,
            "percent": percent, "message": message, "created": created, "started": started, "finished": finished,
            "expires": expires, "expire_seconds": expire, "timeout": 3600.0, "backend": backend,
            "backend_id": str(rng.randint(1000, 999999)) if backend == "slurm" else None, "is_async": is_async,
            "request": json.dumps({"identifier": identifier, "inputs": inputs,
                                   "outputs": [{"identifier": output, "as_reference": False}],
                                   "store": is_async, "status": is_async, "lineage": False}),
            "outputs": outputs, "context": context if is_async else None,
        })
    return out


def seed(database: str, count: int) -> dict:
    """Insert ``count`` jobs into the SQLite store at ``database``; returns seconds and file size."""
    from wpsgate.jobs.store import JobStore, jobs

    started = time.perf_counter()
    os.makedirs(os.path.dirname(database), exist_ok=True)
    store = JobStore(f"sqlite:///{database}")
    data = sorted(rows(count), key=lambda row: row["created"])  # in time order, as they would have come
    with store.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA synchronous=OFF")  # seeding only; the gateway sets its own
        connection.exec_driver_sql("PRAGMA cache_size=-262144")
        for first in range(0, len(data), 5000):
            connection.execute(jobs.insert(), data[first:first + 5000])
        connection.commit()
    store.close()
    return {"seconds": time.perf_counter() - started, "megabytes": os.path.getsize(database) / 2 ** 20,
            "statuses": {s: sum(1 for r in data if r["status"] == s) for s in {r["status"] for r in data}}}


def status_page_figures(results: Results, settings, workdir: str, log) -> None:
    server = WpsgateServer(workdir, settings.workers)
    info = seed(server.database, settings.status_jobs)
    log(f"  seeded {settings.status_jobs:,} jobs in {info['seconds']:.1f} s ({info['megabytes']:.0f} MB): "
        f"{info['statuses']}")
    try:
        server.start(timeout=120)
        idle = server.rss()
        first = json.loads(httpclient.get(server.status_list()).body)
        if len(first["jobs"]) != 50:
            raise RuntimeError(f"/status/ listed {len(first['jobs'])} jobs, expected 50")
        cursor = first["next_cursor"]
        pages = {
            "status_page": ("/status/ (newest 50)", server.status_list()),
            "status_page_failed": ("/status/?status=failed (newest 50 failed)", server.status_list("status=failed")),
            "status_page_cursor": ("/status/?cursor=… (page 2)", server.status_list(f"cursor={cursor}")),
            "status_page_offset": ("/status/?offset=90000 (deep page)", server.status_list("offset=90000")),
        }
        values: dict[str, list[list[float]]] = {key: [] for key in pages}
        for _round in range(settings.rounds):
            for key, (label, url) in pages.items():
                count = settings.status_count if key != "status_page_offset" else max(10, settings.status_count // 5)
                samples = sequential(url, count, 20, b'"jobs"', label)
                values[key].append(samples)
                log(f"  {label:44s} p50 {percentile(samples, 50):7.2f} ms p99 {percentile(samples, 99):7.2f} ms")
        for key, (label, _url) in pages.items():
            for p in (50, 99):
                target = Target("max", 50.0, "≤ 50 ms") if key == "status_page" and p == 50 else None
                results.add(Figure(f"{key}_p{p}", "Job store", f"{label} with {settings.status_jobs:,} jobs, p{p}",
                                   "ms", "lower", [percentile(s, p) for s in values[key]], None, target))
        loaded = server.rss()
        results.add(Figure(
            "rss_100k", "Memory", f"gateway process RSS with {settings.status_jobs:,} jobs stored (after the "
            "/status/ requests)", "MiB", "lower", [loaded["main"]], None, Target("max", 150.0, "≤ 150 MiB"),
            detail={"total": loaded["total"], "after_start": idle}))
        results.add(Figure(
            "rss_100k_total", "Memory", f"all gateway processes RSS with {settings.status_jobs:,} jobs stored "
            "(gateway + workers)", "MiB", "lower", [loaded["total"]], None))
        results.extra["seed"] = info
        log(f"  RSS with {settings.status_jobs:,} jobs: gateway {loaded['main']:.1f} MiB, "
            f"with workers {loaded['total']:.1f} MiB (after start: {idle['main']:.1f})")
    finally:
        server.stop()
