"""``python -m bench``: wpsgate and PyWPS 4.8.1 side by side, written to docs/benchmarks.md.

One run on one machine: starts PyWPS (its own virtualenv, gunicorn, the same demo
processes) and wpsgate (the same number of workers), measures every HTTP figure
alternately, then the job store, the schedulers and the joblauncher, and
writes the table.  Every server it starts runs in its own process group and is
killed at the end, also on failure or Ctrl-C.  ``--quick`` is the short run for
development.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from typing import Callable

from . import (burst, components, http_figures, jobstore, launcher, machine, ogcapi, peer_env, procs, report,
               scheduler_accept, schedulers, throughput)
from .results import Figure, Results
from .servers import REPO, PywpsServer, WpsgateServer
from .settings import FULL, QUICK, Settings

PHASES = ("http", "burst", "store", "schedulers", "accept", "launcher", "steps", "ogcapi")


class Run:
    def __init__(self, settings: Settings, results: Results) -> None:
        self.settings = settings
        self.results = results
        self.started = time.monotonic()

    def log(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"[{int(elapsed // 60):2d}:{int(elapsed % 60):02d}] {text}", flush=True)

    def phase(self, name: str, function: Callable[[], None]) -> bool:
        """Run one measurement; a failure is noted and the run goes on; past the budget it is skipped."""
        elapsed = time.monotonic() - self.started
        self.results.extra.setdefault("load", []).append((name, machine.loadavg()[0], machine.foreign_pytest()))
        if elapsed > self.settings.budget_seconds:
            self.results.note(f"{name}: skipped, the run's time budget ({self.settings.budget_seconds / 60:.0f} "
                              f"min) was used up after {elapsed:.0f} s")
            self.log(f"{name}: skipped (time budget)")
            return False
        self.log(name)
        try:
            function()
            return True
        except Exception as exc:
            self.log(f"{name} FAILED: {exc}")
            traceback.print_exc()
            self.results.note(f"{name}: failed: {type(exc).__name__}: {str(exc)[:500]}")
            return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short rounds for development (a few minutes)")
    parser.add_argument("--output", default=os.path.join(REPO, "docs", "benchmarks.md"),
                        help="the markdown file to write (default docs/benchmarks.md)")
    parser.add_argument("--skip", action="append", default=[], choices=PHASES, help="leave out a phase (repeatable)")
    parser.add_argument("--no-start-schedulers", action="store_true",
                        help="do not run slurm-demo/start-all.sh when a scheduler is not answering")
    parser.add_argument("--pywps-venv", help="PyWPS's virtualenv (default bench/.venv-pywps, created if missing)")
    parser.add_argument("--loadgen", choices=("auto", "wrk", "asyncio"), default="auto",
                        help="throughput load generator (default: wrk where installed, else asyncio)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work folders (logs, databases)")
    return parser


def setup_lines(settings: Settings, tool: str) -> list[str]:
    s = settings
    return [
        f"both servers on 127.0.0.1 with {s.workers} worker processes: wpsgate `processing.parallelprocesses: "
        f"{s.workers}` (local mode: warm workers); PyWPS under gunicorn with {s.workers} sync workers, "
        f"`parallelprocesses = {s.workers}`, `[processing] mode = default` (a forked process per async job); "
        "both log at WARNING, both queue up to 2,000 async jobs; the same nine demo processes "
        "(wpsgate/demo, bench/pywps_app/processes.py)",
        f"throughput: {tool}, {s.connections} connections, {s.seconds:g} s per measurement, "
        f"{s.rounds} rounds per server",
        f"latency: one keep-alive client (a fresh connection per request where gunicorn closes it), "
        f"{s.sync_count} sync `hello` requests per round (at most {s.sync_seconds:g} s), {s.accept_count} async "
        f"`hello` submissions per round (at most {s.accept_seconds:g} s; the jobs are left to finish before the "
        "next measurement); p50 and p99 of each round",
        f"end to end: {s.e2e_count} `ultimate_question` jobs (4 steps of 0.1 s) per round and server, one at a "
        "time, from sending the Execute to receiving ProcessSucceeded, minus 0.4 s",
        f"schedulers: {s.sched_rounds} rounds of {s.sched_count} pairs of jobs, one at a time: a one-line job on the "
        "scheduler alone, then `ultimate_question` through wpsgate (slurm mode: sbatch/squeue; drmaa mode: Grid "
        "Engine through DRMAA); the scheduler's own figure is from the same API the gateway uses",
        f"job store: {s.status_jobs:,} jobs inserted into a fresh gateway's SQLite store before it starts; "
        f"{s.status_count} sequential requests per page and round",
        f"burst: {s.burst_count} async `hello` submissions from {s.burst_concurrency} connections, "
        f"{s.burst_rounds} round(s), against GetCapabilities load at {s.connections} connections",
        f"joblauncher: {s.launcher_runs} runs each of `python -c pass`, the imports alone, `python -m joblauncher` "
        "and the timed twin",
    ]


def byte_compile() -> None:
    """Compile wpsgate and joblauncher to .pyc first, as installing a package does (PyWPS's venv got its .pyc
    from pip).  An editable checkout under PYTHONDONTWRITEBYTECODE would otherwise compile every module on
    every start: tens of milliseconds in each joblauncher run and each worker's start."""
    import compileall

    for package in ("wpsgate", "joblauncher"):
        compileall.compile_dir(os.path.join(REPO, package), quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.loadgen == "asyncio":
        os.environ["BENCH_LOADGEN"] = "asyncio"
    elif args.loadgen == "wrk" and not shutil.which("wrk"):
        print("wrk is not installed (make bench-tools installs it)", file=sys.stderr)
        return 2
    procs.install_cleanup()
    byte_compile()
    results = Results()
    run = Run(settings, results)
    root = tempfile.mkdtemp(prefix="wpsgate-bench-")
    tool = throughput.tool()
    results.meta.update(quick=settings.quick, tool=(f"wrk {throughput.wrk_version()}" if tool == "wrk" else
                                                     "bench.loadgen (asyncio; wrk is not installed)"),
                        cores=os.cpu_count(), setup=setup_lines(settings, tool))
    results.meta["busy_before"] = f"{machine.busy_cores():.1f}"
    results.meta["speed"] = machine.speed(root)
    run.log(f"wpsgate benchmark ({'quick' if settings.quick else 'full'} run), work folder {root}")
    servers: list = []
    try:
        venv, versions = peer_env.PYWPS.ensure(args.pywps_venv, log=run.log)
        results.meta.update(machine.describe(sys.executable, versions))
        if "http" not in args.skip or "burst" not in args.skip:
            run.log("starting wpsgate and PyWPS")
            wpsgate = WpsgateServer(os.path.join(root, "wpsgate-local"), settings.workers).start()
            pywps = PywpsServer(os.path.join(root, "pywps"), venv, settings.workers).start()
            servers = [wpsgate, pywps]
            time.sleep(1.0)
            idle = {s.name: s.rss() for s in servers}
            results.add(Figure("rss_idle_total", "Memory", "all processes RSS, idle after start (server + "
                               "workers)", "MiB", "lower", [idle["wpsgate"]["total"]], [idle["PyWPS"]["total"]]))
            results.add(Figure("rss_idle", "Memory", "gateway process RSS, idle after start (PyWPS: one gunicorn "
                               "worker)", "MiB", "lower", [idle["wpsgate"]["main"]],
                               [(idle["PyWPS"]["total"] - idle["PyWPS"]["main"]) / settings.workers]))
            if "http" not in args.skip:
                for name, function in (("throughput", http_figures.throughput_figures),
                                       ("sync latency", http_figures.sync_latency),
                                       ("async accept latency", http_figures.async_accept),
                                       ("async accept, workers busy", http_figures.async_accept_queued),
                                       ("local end to end", http_figures.local_end_to_end),
                                       ("status polls", http_figures.status_polls)):
                    run.phase(name, lambda f=function: f(results, settings, servers, run.log))
            after = {s.name: s.rss() for s in servers}
            results.add(Figure("rss_after_total", "Memory", "all processes RSS after the HTTP measurements",
                               "MiB", "lower", [after["wpsgate"]["total"]], [after["PyWPS"]["total"]]))
            pywps.stop()
            if "burst" not in args.skip:
                run.phase("burst", lambda: burst.burst_figure(results, settings, wpsgate, run.log))
            wpsgate.stop()
            servers = []
        if "store" not in args.skip:
            run.phase("job store with 100,000 jobs", lambda: jobstore.status_page_figures(
                results, settings, os.path.join(root, "wpsgate-store"), run.log))
        if "schedulers" not in args.skip:
            def scheduler_phase() -> None:
                problems = ({name: schedulers.problem(name) for name in ("slurm", "gridengine")}
                            if args.no_start_schedulers else schedulers.ensure_started(run.log))
                schedulers.scheduler_figures(results, settings, root, run.log, problems)
            run.phase("schedulers", scheduler_phase)
        if "accept" not in args.skip:
            run.phase("accepting jobs on each backend", lambda: results.extra.__setitem__(
                "scheduler_accept", scheduler_accept.measure_all(settings.burst_count, 16, log=run.log)))
            run.phase("ways of submitting to each scheduler", lambda: results.extra.__setitem__(
                "submission_modes", scheduler_accept.submission_modes(100)))
        if "launcher" not in args.skip:
            run.phase("joblauncher overhead", lambda: launcher.launcher_figures(results, settings, root, run.log))
        if "steps" not in args.skip:
            def steps_phase() -> None:
                costs = components.measure(os.path.join(root, "steps"))
                results.extra["steps"] = costs
                for name, value in costs.items():
                    run.log(f"  {value if isinstance(value, str) else f'{value:7.3f} ms'}  {name}")
            run.phase("what the steps of an Execute cost", steps_phase)
        if "ogcapi" not in args.skip:
            run.phase("OGC API against pygeoapi", lambda: results.extra.__setitem__(
                "ogcapi", ogcapi.measure(settings, root, run.log)))
    except KeyboardInterrupt:
        run.log("interrupted")
        raise
    finally:
        for server in servers:
            server.stop()
        procs.stop_all()
        if args.keep:
            run.log(f"work folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    elapsed = time.monotonic() - run.started
    results.meta["duration"] = f"{int(elapsed // 60)} min {int(elapsed % 60)} s"
    results.extra.setdefault("load", []).append(("the end", machine.loadavg()[0], machine.foreign_pytest()))
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as handle:
        handle.write(report.render(results))
    raw = os.path.join(os.path.dirname(os.path.abspath(__file__)), "last-run.json")
    with open(raw, "w") as handle:
        json.dump({"meta": results.meta, "notes": results.notes, "extra": results.extra,
                   "figures": {k: vars(f) | {"target": vars(f.target) if f.target else None}
                               for k, f in results.figures.items()}}, handle, indent=1, default=str)
    run.log(f"wrote {os.path.relpath(args.output)} (raw figures in {os.path.relpath(raw)}) in "
            f"{results.meta['duration']}")
    print(report.summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
