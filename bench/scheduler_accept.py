"""Accepting async jobs on each backend, and what the scheduler sees of a burst.

``python -m bench.scheduler_accept [--count N] [--connections C] [--modes local,slurm,drmaa]``

For each backend, one gateway (demo ``hello``; on a scheduler its jobs are held, so that the
shared demo schedulers are not flooded and nothing but submission is measured):

- accept latency: 200 async Execute requests one after another on one connection, p50 and p99;
- a burst: N async Execute requests from C connections at once: accepted per second, and the time
  from the burst's start until every accepted job has its scheduler id in the job table;
- the scheduler commands (sbatch, squeue, sacct, scancel) or DRMAA calls (runJob, jobStatus, ...)
  the gateway made, per 1,000 jobs (from the count the gateway logs when it stops), against PyWPS's
  one submission call per job.

The held jobs are cancelled at the end.  Prints one JSON line per backend.
"""
from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.burst import _submitter  # noqa: E402
from bench.httpclient import split_url  # noqa: E402
from tests.demo_schedulers import gridengine_env, scheduler_problem  # noqa: E402
from tests.gateway import GatewayProcess  # noqa: E402

HOLD = {"slurm": "--hold", "drmaa": "-h"}
SCHEDULER = {"slurm": "slurm", "drmaa": "gridengine"}
SEQUENTIAL = 200  # accepts one after another, for the latency figures
TARGET_P50_MS = 5.0  # on every backend
TARGET_BURST_PER_S = 300.0  # on Slurm and on Grid Engine
QUERY = "service=WPS&version=1.0.0&request=Execute&identifier=hello&storeExecuteResponse=true&DataInputs=name=b"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _submitted(database: str) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("select count(*) from jobs where backend_id is not null").fetchone()[0]


def _ids(database: str) -> list[str]:
    with sqlite3.connect(database) as connection:
        return [r[0] for r in connection.execute("select backend_id from jobs where backend_id is not null")]


async def _burst(url: str, count: int, connections: int) -> tuple[dict, float]:
    host, port, target = split_url(url)
    results = {"accepted": 0, "busy": 0, "other": 0}
    counter = [0]
    started = time.monotonic()
    await asyncio.gather(*(_submitter(host, port, target, counter, count, results) for _ in range(connections)))
    return results, started


def _sequential_accepts(url: str, count: int) -> list[float]:
    """Milliseconds of ``count`` async Executes one after another on one keep-alive connection
    (http.client: the client's own cost per request stays well below a millisecond)."""
    host, port, target = split_url(url)
    connection = http.client.HTTPConnection(host, port, timeout=30)
    latencies = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", target)
            body = connection.getresponse().read()
            latencies.append((time.perf_counter() - started) * 1000)
            assert b"ProcessAccepted" in body, body[:300]
    finally:
        connection.close()
    return latencies


def measure(mode: str, count: int, connections: int, workdir: str) -> dict:
    config = {"processing": {"mode": mode, "parallelprocesses": 2, "maxqueue": 5000}, "logging": {"level": "INFO"}}
    if mode != "local":
        config["scheduler"] = {"processes": {"hello": {"native": HOLD[mode]}}, "poll_interval": 2,
                               "submit_window": float(os.environ.get("BENCH_SUBMIT_WINDOW", "0"))}
    env = gridengine_env() if mode == "drmaa" else {}
    gateway = GatewayProcess(workdir, config, env=env).start(timeout=60)
    database = os.path.join(workdir, "jobs.sqlite")
    url = f"{gateway.wps}?{QUERY}"
    try:
        latencies = _sequential_accepts(url, SEQUENTIAL)
        before = _submitted(database)
        results, burst_start = asyncio.run(_burst(url, count, connections))
        burst_seconds = time.monotonic() - burst_start
        all_ids = None
        if mode != "local":
            target = before + results["accepted"]
            deadline = time.monotonic() + 600
            while _submitted(database) < target and time.monotonic() < deadline:
                time.sleep(0.05)
            all_ids = round(time.monotonic() - burst_start, 2) if _submitted(database) >= target else None
        ids = _ids(database)
    finally:
        gateway.stop(timeout=60)
    calls = {}
    match = re.findall(r"scheduler calls while running: (\{.*?\}); submission rounds: (\d+)", gateway.log())
    if match:
        calls = json.loads(match[-1][0])
        calls["submission rounds"] = int(match[-1][1])
    jobs = SEQUENTIAL + results["accepted"]
    if ids:
        _cancel(mode, ids)
    return {"backend": mode, "accept_p50_ms": round(percentile(latencies, 0.5), 2),
            "accept_p99_ms": round(percentile(latencies, 0.99), 2), "burst": count, "connections": connections,
            "accepted": results["accepted"], "busy": results["busy"], "other": results["other"],
            "accepted_per_s": round(results["accepted"] / burst_seconds, 1),
            "seconds_until_all_have_scheduler_ids": all_ids, "jobs": jobs,
            "scheduler_calls": calls,
            "scheduler_calls_per_1000_jobs": {k: round(v * 1000 / jobs, 1) for k, v in calls.items()
                                              if k != "submission rounds"},
            "load_average": os.getloadavg()[0]}


def _cancel(mode: str, ids: list[str]) -> None:
    for start in range(0, len(ids), 200):
        chunk = ids[start:start + 200]
        if mode == "slurm":
            subprocess.run(["scancel", *chunk], capture_output=True, timeout=120)
        else:
            subprocess.run(["qdel", *chunk], capture_output=True, timeout=120, env={**os.environ, **gridengine_env()})


LABELS = {"local": "local (control)", "slurm": "slurm", "drmaa": "drmaa (Grid Engine)"}
CALL_NAMES = {"slurm": ("sbatch", "squeue", "sacct", "scancel"), "drmaa": ("runBulkJobs", "runJob", "qstat -xml",
                                                                          "jobStatus", "control")}


def markdown(rows: list[dict]) -> list[str]:
    """The section of docs/benchmarks.md: one row per backend, the targets judged on this run's figures."""
    lines = ["## Accepting jobs on a scheduler: one lifecycle, batched submission", "",
             f"`bench/scheduler_accept.py`: {SEQUENTIAL} async Execute of `hello` one after another on one "
             "connection (accept p50/p99), then a burst from 16 connections (accepted per second, and the seconds "
             "from the burst's start until every job has its scheduler id in the job table). On the schedulers "
             "the jobs are held (`--hold`, `-h`) so that submission alone is measured, and cancelled afterwards. "
             "Scheduler calls are those the gateway made during the whole run, per 1,000 jobs; PyWPS makes one "
             "`sbatch` or DRMAA `runJob` per job inside the accept: 1,000 per 1,000 jobs. The gateway logs at "
             "INFO (the default: one lifecycle line per job event).", "",
             "| backend | accept p50 ms | accept p99 ms | burst | accepted/s | s until every job has its scheduler id "
             "| scheduler calls per 1,000 jobs | load average |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    verdicts = []
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {LABELS.get(row['backend'], row['backend'])} | {row['skipped']} | | | | | | |")
            continue
        calls = row.get("scheduler_calls_per_1000_jobs", {})
        named = ", ".join(f"{value:g} `{name}`" for name, value in sorted(calls.items(), key=lambda kv: -kv[1]) if value)
        ids = row.get("seconds_until_all_have_scheduler_ids")
        lines.append(f"| {LABELS.get(row['backend'], row['backend'])} | {row['accept_p50_ms']:.2f} | "
                     f"{row['accept_p99_ms']:.1f} | {row['accepted']:,} of {row['burst']:,} | "
                     f"{row['accepted_per_s']:,.0f} | {'—' if ids is None else f'{ids:.1f}'} | {named or '—'} | "
                     f"{row['load_average']:.1f} |")
        p50_met = row["accept_p50_ms"] <= TARGET_P50_MS
        verdicts.append(f"accept p50 ≤ {TARGET_P50_MS:g} ms on {row['backend']}: {row['accept_p50_ms']:.2f} ms, "
                        f"{'met' if p50_met else '**missed**'}")
        if row["backend"] != "local":
            burst_met = row["accepted_per_s"] >= TARGET_BURST_PER_S
            verdicts.append(f"burst ≥ {TARGET_BURST_PER_S:g}/s on {row['backend']}: {row['accepted_per_s']:,.0f}/s, "
                            f"{'met' if burst_met else '**missed**'}")
    lines += ["", "Targets (this run):", ""] + [f"- {verdict}" for verdict in verdicts] + [""]
    reasons = _explain(rows)
    if reasons:
        lines += ["Where the misses come from (this run's figures):", ""] + [f"- {r}" for r in reasons] + [""]
    return lines


def _explain(rows: list[dict]) -> list[str]:
    """Each miss set against the local control of the same run: the accept path is the same code on every
    backend (persist and answer; no scheduler call), so what a scheduler backend adds is its submitter's
    work (the commands or calls, recording the ids) sharing the machine with the accepts."""
    measured = {row["backend"]: row for row in rows if "skipped" not in row}
    local = measured.get("local")
    reasons = []
    for name, row in measured.items():
        calls = sum(row.get("scheduler_calls_per_1000_jobs", {}).values())
        if row["accept_p50_ms"] > TARGET_P50_MS:
            if local is not None and name != "local":
                reasons.append(f"{name}: accept p50 {row['accept_p50_ms']:.2f} ms against the local control's "
                               f"{local['accept_p50_ms']:.2f} ms in the same run ({row['accept_p50_ms'] - local['accept_p50_ms']:+.2f} ms: "
                               f"the submitter's {calls:g} scheduler commands or calls per 1,000 jobs and the id records "
                               f"run beside the accepts; load average {row['load_average']:.1f})")
            else:
                reasons.append(f"{name}: accept p50 {row['accept_p50_ms']:.2f} ms with no scheduler at all (the "
                               f"just-accepted hello jobs run on the same cores; load average {row['load_average']:.1f})")
        if name != "local" and row["accepted_per_s"] < TARGET_BURST_PER_S:
            control = f" against the local control's {local['accepted_per_s']:,.0f}/s" if local else ""
            reasons.append(f"{name}: burst {row['accepted_per_s']:,.0f}/s{control}; the client, the gateway and "
                           "the scheduler's daemons share the machine's cores")
    return reasons


def submission_modes(count: int = 100) -> list[dict]:
    """The ways of handing ``count`` held jobs to each scheduler (bench/submission_modes.py, in a process of
    its own: the DRMAA library reads Grid Engine's environment when it is loaded)."""
    done = subprocess.run([sys.executable, "-m", "bench.submission_modes", "--count", str(count)], cwd=REPO,
                          capture_output=True, text=True, timeout=900, env={**os.environ, **gridengine_env()})
    if done.returncode != 0:
        raise RuntimeError(f"bench.submission_modes failed: {done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def submission_markdown(rows: list[dict]) -> list[str]:
    """Why the submitter submits arrays: each way of submitting, timed on this machine."""
    if not rows:
        return []
    count = next((row["jobs"] for row in rows if "jobs" in row), 0)
    lines = [f"### Submitting {count} held jobs, by way of submitting (`bench/submission_modes.py`)", "",
             "| scheduler | way | seconds | jobs/s | scheduler commands or calls |", "| --- | --- | --- | --- | --- |"]
    for row in rows:
        if "skipped" in row:
            lines.append(f"| {row['scheduler']} | not measured: {row['skipped']} | | | |")
            continue
        lines.append(f"| {row['scheduler']} | {row['mode']} | {row['seconds']:.3f} | {row['jobs_per_s']:,.1f} | "
                     f"{row.get('commands', row.get('calls'))} |")
    return lines + ["", "Each submission round of the gateway is one array per set of jobs that share their "
                        "resources, user and account.", ""]


def measure_all(count: int, connections: int, modes: tuple[str, ...] = ("local", "slurm", "drmaa"),
                log=print) -> list[dict]:
    """Every backend in turn (a missing scheduler is a row that says so); for ``make bench``."""
    rows = []
    for mode in modes:
        if mode != "local" and scheduler_problem(SCHEDULER[mode]):
            rows.append({"backend": mode, "skipped": f"not measured: {scheduler_problem(SCHEDULER[mode])}"})
            continue
        with tempfile.TemporaryDirectory() as workdir:
            rows.append(measure(mode, count, connections, workdir))
        log(f"  {mode}: accept p50 {rows[-1]['accept_p50_ms']} ms, burst {rows[-1]['accepted_per_s']}/s")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--modes", default="local,slurm,drmaa")
    args = parser.parse_args()
    for mode in args.modes.split(","):
        if mode != "local" and scheduler_problem(SCHEDULER[mode]):
            print(json.dumps({"backend": mode, "skipped": scheduler_problem(SCHEDULER[mode])}))
            continue
        with tempfile.TemporaryDirectory() as workdir:
            print(json.dumps(measure(mode, args.count, args.connections, workdir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
