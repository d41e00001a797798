"""The joblauncher's overhead on a node, broken down, against a bare ``python -c pass``.

Job folders are written the way the gateway writes them for a scheduler
(Lifecycle.persist_now: the dilled process and spec in a signed job file, and the
ProcessAccepted document), for ``hello``, whose handler takes microseconds, so
the whole run is overhead.  Each of N rounds runs, one after another: a bare
interpreter, an interpreter that only imports what the joblauncher imports, the
real ``python -m joblauncher``, and the same run under bench/launcher_probe.py,
which times each step inside.  ``python -X importtime`` says where the imports go.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from .results import Figure, Results, Target
from .servers import BENCH, REPO
from .stats import median


class Site:
    """A gateway's work folder, signing key and service, without a running gateway."""

    def __init__(self, workdir: str) -> None:
        from wpsgate.config import config_from_mapping
        from wpsgate.jobs.jobfile import load_or_create_key
        from wpsgate.registry import load_processes
        from wpsgate.service import Urls, WPSService

        config = config_from_mapping({"server": {"workdir": workdir}}, environ={})
        self.spool = config.spool
        os.makedirs(self.spool, exist_ok=True)
        self.key_path = os.path.join(config.workdir, "job.key")
        self.key = load_or_create_key(self.key_path)
        self.service = WPSService(config, load_processes(None), engine=None, urls=Urls("http://127.0.0.1:9"))

    def job(self, identifier: str = "hello", datainputs: str = "name=World") -> str:
        """A job folder as the lifecycle persists it for a scheduler; returns its path."""
        from wpsgate.jobs.folder import JobFolder
        from wpsgate.jobs.jobfile import write_job_file
        from wpsgate.protocol.documents import JobStatus, render_execute_response
        from wpsgate.protocol.kvp import parse_kvp

        query = (f"service=WPS&request=Execute&version=1.0.0&identifier={identifier}&storeExecuteResponse=true"
                 f"&status=true&DataInputs={datainputs}")
        process, spec, timeout, _expire = self.service.prepare(parse_kvp(query))
        spec.store = True
        folder = JobFolder(spec.spool, spec.uuid).create()
        write_job_file(folder, self.key, spec, timeout, process=process, durable=True)
        folder.write_status(render_execute_response(spec.context, JobStatus("accepted", "Process accepted, "
                                                                           "submitted to the scheduler")), True)
        return folder.path


def _env() -> dict[str, str]:
    # the launcher runs isolated (-I) and finds wpsgate through the virtualenv, as on a node
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "WPSGATE_JOB_KEY")}


def _timed(argv: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)
    return time.perf_counter() - started, result


def import_profile(python: str, limit: int = 10) -> list[tuple[str, float]]:
    """Import time of ``joblauncher.cli`` and ``dill`` by top-level package, in ms of self time
    (python -X importtime; each module counted once, under the package it belongs to)."""
    result = subprocess.run([python, "-X", "importtime", "-c", "import joblauncher.cli, dill"], cwd=REPO,
                            env=_env(), capture_output=True, text=True, timeout=120)
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, name = line[len("import time:"):].split("|")
        package = name.strip().split(".")[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1000.0
    return sorted(totals.items(), key=lambda item: -item[1])[:limit]


def launcher_figures(results: Results, settings, root: str, log, python: str | None = None) -> None:
    from wpsgate.jobs.cluster import launch_command

    python = python or sys.executable
    site = Site(os.path.join(root, "launcher-site"))
    runs: dict[str, list[float]] = {"bare": [], "imports": [], "full": []}
    probes: list[dict] = []
    cwd = os.path.join(root, "launcher-site")
    subprocess.run([python, "-c", "import joblauncher.cli, dill"], cwd=REPO, env=_env(), timeout=120)  # warm caches
    for _ in range(settings.launcher_runs):
        runs["bare"].append(_timed([python, "-I", "-c", "pass"], cwd)[0])
        runs["imports"].append(_timed([python, "-I", "-c", "import joblauncher.cli, dill"], cwd)[0])
        seconds, result = _timed(list(launch_command(python, site.key_path, site.job())), cwd)
        if result.returncode != 0:
            raise RuntimeError(f"joblauncher failed ({result.returncode}): {result.stderr[-1500:]}")
        runs["full"].append(seconds)
        seconds, result = _timed([python, os.path.join(BENCH, "launcher_probe.py"), "--key", site.key_path,
                                  site.job()], cwd)
        if result.returncode != 0:
            raise RuntimeError(f"launcher probe failed ({result.returncode}): {result.stderr[-1500:]}")
        probe = json.loads(result.stdout.strip().splitlines()[-1])
        probe["wall"] = seconds
        probes.append(probe)
    ms = {name: [v * 1000 for v in values] for name, values in runs.items()}
    bare, full = median(ms["bare"]), median(ms["full"])

    def p(name: str) -> float:
        return median([probe.get(name, 0.0) * 1000 for probe in probes])

    run_job_other = p("run_job") - p("status_writes") - p("result_write_in_run_job")
    probe_wall = median([probe["wall"] * 1000 for probe in probes])
    breakdown = {
        "interpreter start and exit (python -c pass)": bare,
        "imports (joblauncher, wpsgate, lxml, dill, ...)": p("imports") + p("stdlib_imports"),
        "read key, read job file, verify its HMAC, outer unpickle": p("key") + p("verify"),
        "load the job (dill.loads of process and spec)": p("load"),
        "run_job without its file writes (handler, documents)": run_job_other,
        "status document writes (atomic, fsync)": p("status_writes"),
        "final record writes (result.json, fsync)": p("result_write"),
    }
    accounted = sum(breakdown.values())
    breakdown["the rest (argparse, a longer interpreter exit, ...)"] = probe_wall - accounted
    overhead = [f - b for f, b in zip(ms["full"], ms["bare"])]
    profile = import_profile(python)
    results.add(Figure(
        "launcher_overhead", "joblauncher", "joblauncher run of a no-op job minus a bare `python -c pass`", "ms",
        "lower", overhead, None, Target("max", 150.0, "≤ 150 ms"),
        detail={"breakdown": breakdown, "bare": bare, "full": full, "probe_wall": probe_wall,
                "imports_subprocess": median(ms["imports"]) - bare, "runs": settings.launcher_runs,
                "import_profile": profile, "imports_in_process": p("imports") + p("stdlib_imports"),
                "spread": (min(overhead), max(overhead))}))
    log(f"  joblauncher: bare {bare:.1f} ms, full {full:.1f} ms, overhead {median(overhead):.1f} ms "
        f"(the timed twin: {probe_wall:.1f} ms)")
    for name, value in breakdown.items():
        log(f"    {name:60s} {value:8.1f} ms")
    log("    slowest top-level imports: " + ", ".join(f"{n} {v:.0f} ms" for n, v in profile[:6]))
