"""OGC API – Processes: wpsgate's front door against pygeoapi (its current release, own virtualenv).

pygeoapi runs under gunicorn with as many sync workers as wpsgate has job workers, with its
hello-world process and its TinyDB manager (async-capable, the manager its docs start with).
Figures: /processes and /processes/{id} requests/s, sync execution p50 of the equivalent hello
process, async accept p50 (Prefer: respond-async), and the /jobs page time with 100,000 jobs
stored (wpsgate: its SQLite job table; pygeoapi: its TinyDB file, seeded with the same count).
The section is written by ``markdown`` and added to docs/benchmarks.md by the report.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid as _uuid
from typing import Any

import yaml

from . import httpclient, jobstore, peer_env, throughput
from .procs import Managed, free_port
from .servers import WpsgateServer
from .stats import median, percentile

PYGEOAPI_HELLO = "hello-world"


class PygeoapiServer:
    name = "pygeoapi"

    def __init__(self, workdir: str, venv: str, workers: int = 2) -> None:
        self.workdir = workdir
        self.venv = venv
        self.workers = workers
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.managed: Managed | None = None
        os.makedirs(os.path.join(workdir, "outputs"), exist_ok=True)
        self.database = os.path.join(workdir, "jobs.db")
        config = {
            "server": {"bind": {"host": "127.0.0.1", "port": self.port}, "url": self.base,
                       "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                       "pretty_print": False, "limits": {"default_items": 10, "max_items": 1000},
                       "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "none"},
                       "manager": {"name": "TinyDB", "connection": self.database,
                                   "output_dir": os.path.join(workdir, "outputs")}},
            "logging": {"level": "WARNING"},
            "metadata": {
                "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                                   "keywords_type": "theme", "terms_of_service": "none", "url": "http://example.org"},
                "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
                "provider": {"name": "bench", "url": "http://example.org"},
                "contact": {"name": "bench", "position": "bench", "address": "bench", "city": "bench",
                            "stateorprovince": "bench", "postalcode": "0", "country": "bench", "phone": "0",
                            "fax": "0", "email": "bench@example.org", "url": "http://example.org", "hours": "0",
                            "instructions": "none", "role": "pointOfContact"}},
            "resources": {PYGEOAPI_HELLO: {"type": "process", "processor": {"name": "HelloWorld"}}},
        }
        self.config_path = os.path.join(workdir, "pygeoapi.yml")
        with open(self.config_path, "w") as handle:
            yaml.safe_dump(config, handle)
        self.openapi_path = os.path.join(workdir, "openapi.yml")

    def start(self, timeout: float = 120) -> "PygeoapiServer":
        env = {**os.environ, "PYGEOAPI_CONFIG": self.config_path, "PYGEOAPI_OPENAPI": self.openapi_path}
        env.pop("PYTHONPATH", None)
        subprocess.run([os.path.join(self.venv, "bin", "pygeoapi"), "openapi", "generate", self.config_path,
                        "--output-file", self.openapi_path], env=env, check=True, timeout=120,
                       capture_output=True)
        argv = [os.path.join(self.venv, "bin", "gunicorn"), "--workers", str(self.workers),
                "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "300",
                "pygeoapi.flask_app:APP"]
        self.managed = Managed("pygeoapi", argv, cwd=self.workdir, env=env,
                               log_path=os.path.join(self.workdir, "gunicorn.log"))
        _wait(self.base + "/processes", timeout, self.managed)
        return self

    def stop(self) -> None:
        if self.managed is not None:
            self.managed.stop()
            self.managed = None

    def seed_jobs(self, count: int) -> None:
        """``count`` finished hello-world jobs in the TinyDB file, in the form pygeoapi's manager writes them."""
        now = time.time()
        table = {}
        for index in range(count):
            moment = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(now - count + index))
            table[str(index + 1)] = {
                "type": "process", "identifier": str(_uuid.UUID(int=index + 1)), "process_id": PYGEOAPI_HELLO,
                "created": moment, "started": moment, "updated": moment, "finished": moment,
                "status": "successful", "location": None, "mimetype": "application/json",
                "message": "Job complete", "progress": 100}
        with open(self.database, "w") as handle:
            json.dump({"_default": table}, handle)


def _wait(url: str, timeout: float, managed: Managed) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not managed.alive():
            raise RuntimeError(f"{managed.name} exited at start:\n{managed.log_tail()}")
        try:
            if httpclient.get(url, timeout=10).status == 200:
                return
        except (OSError, httpclient.HTTPError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{managed.name} did not answer {url} within {timeout:.0f} s ({last}):\n{managed.log_tail()}")


def _post_latencies(url: str, body: dict, headers: dict[str, str], expect: int, count: int,
                    max_seconds: float) -> tuple[list[float], list[str]]:
    """Latencies (ms) of POSTs one after another, and the Location of each answer (async)."""
    target = httpclient.target_of(url)
    payload = json.dumps(body).encode()
    samples, locations = [], []
    deadline = time.monotonic() + max_seconds
    with httpclient.Connection.for_url(url) as connection:
        while len(samples) < count and time.monotonic() < deadline:
            response = connection.request("POST", target, payload, {"Content-Type": "application/json", **headers})
            if response.status != expect:
                raise RuntimeError(f"POST {url}: HTTP {response.status}, expected {expect}: {response.body[:300]!r}")
            samples.append(response.seconds * 1000)
            location = response.headers.get("location")
            if location:
                locations.append(location)
    return samples, locations


def _get_latencies(url: str, count: int, max_seconds: float) -> list[float]:
    target = httpclient.target_of(url)
    samples = []
    deadline = time.monotonic() + max_seconds
    with httpclient.Connection.for_url(url) as connection:
        while len(samples) < count and time.monotonic() < deadline:
            response = connection.get(target)
            if response.status != 200 or b'"jobs"' not in response.body:
                raise RuntimeError(f"GET {url}: HTTP {response.status}: {response.body[:300]!r}")
            samples.append(response.seconds * 1000)
    return samples


def _settle(locations: list[str], timeout: float = 120) -> None:
    """Wait for the accepted jobs to end, so the next measurement does not run beside them."""
    deadline = time.monotonic() + timeout
    for location in locations:
        while time.monotonic() < deadline:
            try:
                status = json.loads(httpclient.get(location, timeout=10).body).get("status")
            except (OSError, ValueError, httpclient.HTTPError):
                status = None
            if status in ("successful", "failed", "dismissed"):
                break
            time.sleep(0.05)


def _servers(root: str, venv: str, settings: Any, seeded: int, log) -> tuple[WpsgateServer, PygeoapiServer]:
    wpsgate = WpsgateServer(os.path.join(root, f"ogc-wpsgate-{seeded}"), settings.workers)
    pygeoapi = PygeoapiServer(os.path.join(root, f"ogc-pygeoapi-{seeded}"), venv, settings.workers)
    if seeded:
        info = jobstore.seed(wpsgate.database, seeded)
        pygeoapi.seed_jobs(seeded)
        log(f"  seeded {seeded:,} jobs into each server's job store ({info['seconds']:.1f} s for wpsgate's)")
    wpsgate.start(timeout=120)
    try:
        pygeoapi.start()
    except Exception:
        wpsgate.stop()
        raise
    return wpsgate, pygeoapi


def measure(settings: Any, root: str, log) -> dict[str, Any]:
    """Every figure of the section, both servers, A B A B by round; returns rows for ``markdown``.

    The description and execution figures run against empty job stores; the /jobs figure against
    servers started again with ``settings.status_jobs`` jobs stored (pygeoapi's TinyDB file is
    rewritten on every job it adds, so executing beside 100,000 stored jobs would measure that).
    """
    venv, versions = peer_env.PYGEOAPI.ensure(log=log)
    rows: dict[str, dict[str, list[float]]] = {}

    def add(key: str, server: str, value: float) -> None:
        rows.setdefault(key, {"wpsgate": [], "pygeoapi": []})[server].append(value)

    body = {"inputs": {"name": "World"}, "response": "document"}
    wpsgate, pygeoapi = _servers(root, venv, settings, 0, log)
    try:
        for round_ in range(settings.rounds):
            for server, process in ((wpsgate, "hello"), (pygeoapi, PYGEOAPI_HELLO)):
                name, base = server.name, server.base
                for key, path in (("processes", "/processes"), ("describe", f"/processes/{process}")):
                    add(key, name, throughput.measure(base + path, settings.seconds,
                                                      settings.connections)["requests_per_second"])
                sync, _ = _post_latencies(f"{base}/processes/{process}/execution", body, {}, 200,
                                          settings.sync_count, settings.sync_seconds)
                add("sync", name, percentile(sync, 50))
                accepted, locations = _post_latencies(f"{base}/processes/{process}/execution", body,
                                                      {"Prefer": "respond-async"}, 201,
                                                      settings.accept_count // 3, settings.accept_seconds)
                add("accept", name, percentile(accepted, 50))
                _settle(locations)
                log(f"  round {round_ + 1} {name:8s} processes {rows['processes'][name][-1]:8.0f}/s "
                    f"describe {rows['describe'][name][-1]:8.0f}/s sync p50 {rows['sync'][name][-1]:7.2f} ms "
                    f"accept p50 {rows['accept'][name][-1]:7.2f} ms")
    finally:
        pygeoapi.stop()
        wpsgate.stop()
    wpsgate, pygeoapi = _servers(root, venv, settings, settings.status_jobs, log)
    try:
        for round_ in range(settings.rounds):
            for server in (wpsgate, pygeoapi):
                samples = _get_latencies(f"{server.base}/jobs?limit=10", max(5, settings.status_count // 20), 60)
                add("jobs", server.name, percentile(samples, 50))
                log(f"  round {round_ + 1} {server.name:8s} /jobs p50 {rows['jobs'][server.name][-1]:8.2f} ms")
    finally:
        pygeoapi.stop()
        wpsgate.stop()
    return {"versions": versions, "rows": rows, "jobs": settings.status_jobs, "workers": settings.workers,
            "rounds": settings.rounds, "tool": throughput.tool()}


LABELS = (("processes", "`/processes` (process list)", "req/s", "higher", 20.0),
          ("describe", "`/processes/{{id}}` (hello description)", "req/s", "higher", 20.0),
          ("sync", "sync execution of hello, p50", "ms", "lower", 10.0),
          ("accept", "async accept (`Prefer: respond-async`), p50", "ms", "lower", None),
          ("jobs", "`/jobs?limit=10` with {jobs:,} jobs stored, p50", "ms", "lower", None))


def markdown(data: dict[str, Any], busy: str = "") -> list[str]:
    lines = ["## OGC API – Processes: wpsgate against pygeoapi", "",
             f"pygeoapi {data['versions']['pygeoapi']} (gunicorn {data['versions']['gunicorn']}, "
             f"{data['workers']} sync workers, its hello-world process, TinyDB manager) against wpsgate's OGC API "
             f"({data['workers']} workers, the demo `hello`); medians of {data['rounds']} rounds, A B A B; "
             f"throughput by {data['tool']}. {busy}".rstrip(), "",
             "| figure | wpsgate | pygeoapi | wpsgate is | target |", "|---|---|---|---|---|"]
    for key, label, unit, better, target in LABELS:
        values = data["rows"].get(key)
        if not values:
            continue
        ours, theirs = median(values["wpsgate"]), median(values["pygeoapi"])
        ratio = (ours / theirs if better == "higher" else theirs / ours) if ours > 0 and theirs > 0 else float("nan")
        goal = f"≥ {target:g}× {'met' if ratio >= target else 'NOT met'}" if target else ""
        lines.append(f"| {label.format(jobs=data['jobs'])} | {ours:,.1f} {unit} | {theirs:,.1f} {unit} | "
                     f"{ratio:,.1f}× {'faster' if better == 'lower' else 'more'} | {goal} |")
    lines.append("")
    return lines
