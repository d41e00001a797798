"""End to end on Slurm and Grid Engine, against each scheduler's own submit-to-start latency.

The schedulers are the single-node ones slurm-demo/ starts (``bash
slurm-demo/start-all.sh``, run here when one is not answering and we are root).
Both schedulers here start jobs on a cycle of about a second: a job submitted right after the
previous one ended waits nearly a full cycle, one submitted later waits less.  So every
submission, bare or through the gateway, waits until the scheduler has let go of the previous
job and then a delay of 0-1 s: N delays spread evenly over the second, in a shuffled order, the
same for the two jobs of a pair, and each round's figure is the mean over them (both sides
sample the same phases of the cycle).  Job by job (A B A B): the scheduler alone, a tiny job that writes the time it
started (``sbatch stamp.sh``; DRMAA ``runJob`` of ``/bin/sh stamp.sh``, as the
gateway submits), then ``ultimate_question``
through a wpsgate in slurm or drmaa mode, submit to ProcessSucceeded minus its 0.4 s.
"""
from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from . import httpclient
from .http_figures import end_to_end_job
from .results import Figure, Results, Target
from .servers import REPO, WpsgateServer
from .stamps import wait_for_stamp
from tests.demo_schedulers import gridengine_env, scheduler_problem

STAMP = '#!/bin/sh\ndate +%s.%N > "$1.tmp" && mv "$1.tmp" "$1"\n'


def problem(name: str) -> str | None:
    """None when the scheduler takes jobs, else why not (the test suite's check; a failing command too)."""
    try:
        return scheduler_problem(name)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)


def ensure_started(log) -> dict[str, str | None]:
    """Problems per scheduler after starting them with slurm-demo/start-all.sh if needed (root only)."""
    problems = {name: problem(name) for name in ("slurm", "gridengine")}
    script = os.path.join(REPO, "slurm-demo", "start-all.sh")
    if any(problems.values()) and os.geteuid() == 0 and os.path.exists(script):
        log(f"  starting the schedulers (bash slurm-demo/start-all.sh): {problems}")
        try:
            subprocess.run(["bash", script], cwd=REPO, capture_output=True, timeout=420)
        except subprocess.TimeoutExpired:
            log("  slurm-demo/start-all.sh did not finish within 420 s")
        problems = {name: problem(name) for name in ("slurm", "gridengine")}
    return problems


def settle(name: str, job_id: str, timeout: float = 30.0) -> None:
    """Wait until the scheduler has let go of job ``job_id`` (no longer running or completing), so that
    every measured submission finds the scheduler idle: a job submitted while the previous one is still
    completing waits for it, which would measure the previous job's cleanup, not this job's start."""
    deadline = time.monotonic() + timeout
    env = {**os.environ, **gridengine_env()} if name == "gridengine" else None
    while time.monotonic() < deadline:
        if name == "slurm":
            result = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True,
                                    timeout=30)
            if result.returncode != 0 or not result.stdout.strip():
                return
        else:
            result = subprocess.run(["qstat", "-j", job_id], capture_output=True, text=True, timeout=30, env=env)
            if result.returncode != 0:
                return
        time.sleep(0.05)


def _backend_id(server: WpsgateServer, location: str) -> str:
    uuid = location.rstrip("/").rsplit("/", 1)[1].removesuffix(".xml")
    return str(json.loads(httpclient.get(f"{server.base}/status/{uuid}").body).get("backend_id") or "")


def _stamp_script(folder: str) -> str:
    script = os.path.join(folder, "stamp.sh")
    if not os.path.exists(script):
        with open(script, "w") as handle:
            handle.write(STAMP)
        os.chmod(script, 0o755)
    return script


def own_latency(name: str, folder: str, index: int, phase: float) -> float:
    """Seconds from a submission (``phase`` seconds after the scheduler let go of the previous job) to the
    job's first command on the node.

    Slurm: ``sbatch`` (the command wpsgate's slurm mode runs).  Grid Engine: DRMAA ``runJob`` (the API
    wpsgate's drmaa mode uses, bench/drmaa_stamp.py).
    """
    script = _stamp_script(folder)
    if name == "gridengine":
        result = subprocess.run([sys.executable, "-m", "bench.drmaa_stamp", folder, str(index), str(phase)],
                                cwd=REPO, capture_output=True, text=True, timeout=180,
                                env={**os.environ, **gridengine_env()})
        if result.returncode != 0:
            raise RuntimeError(f"bench.drmaa_stamp failed: {result.stderr[-1500:]}")
        latency, job_id = json.loads(result.stdout)
        settle(name, job_id)
        return latency
    out = os.path.join(folder, f"{name}-{index}")
    argv = ["sbatch", "--parsable", "-J", "wpsgate-bench-latency", "-o", "/dev/null", script, out]
    time.sleep(phase)
    submitted = time.time()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"sbatch failed: {result.stderr.strip()}")
    latency = wait_for_stamp(out, 120) - submitted
    settle(name, result.stdout.strip().split(";")[0])
    return latency


def scheduler_figures(results: Results, settings, root: str, log, problems: dict[str, str | None]) -> None:
    for name, mode, label in (("slurm", "slurm", "Slurm"), ("gridengine", "drmaa", "Grid Engine (DRMAA)")):
        own_key, e2e_key = f"sched_{name}_own", f"e2e_{name}"
        own_label = (f"{label} alone: submit → the job's first command ("
                     + ("sbatch" if name == "slurm" else "DRMAA runJob") + " of a one-line script)")
        e2e_label = f"async ultimate_question submit → ProcessSucceeded, minus its 0.4 s, on {label}"
        if problems.get(name):
            for key, text in ((own_key, own_label), (e2e_key, e2e_label)):
                results.add(Figure(key, "End to end", text, "ms", "lower", skipped=f"{label} not running: "
                                   f"{problems[name]}"))
            log(f"  {label}: skipped ({problems[name]})")
            continue
        env = gridengine_env() if mode == "drmaa" else {}
        folder = tempfile.mkdtemp(prefix=f"stamps-{name}-", dir=root)
        server = WpsgateServer(os.path.join(root, f"wpsgate-{name}"), settings.workers, mode=mode, env=env)
        try:
            server.start(timeout=120)
            _seconds, location = end_to_end_job(server, poll=0.005)  # warm up: the first job of a session
            settle(name, _backend_id(server, location))
            own_rounds, gateway_rounds = [], []
            index = 0
            shuffle = random.Random(20240611)
            for _round in range(settings.sched_rounds):
                own, through = [], []
                # stratified over the cycle: the same N phases for both, in a shuffled order
                phases = [(k + 0.5) / settings.sched_count for k in range(settings.sched_count)]
                shuffle.shuffle(phases)
                for phase in phases:  # job by job, the two jobs of a pair at the same phase
                    own.append(own_latency(name, folder, index, phase) * 1000)
                    index += 1
                    time.sleep(phase)
                    seconds, location = end_to_end_job(server, poll=0.005)
                    through.append(seconds * 1000)
                    settle(name, _backend_id(server, location))
                own_rounds.append(statistics.fmean(own))
                gateway_rounds.append(statistics.fmean(through))
                log(f"  {label:20s} alone {statistics.fmean(own):7.0f} ms   through wpsgate "
                    f"{statistics.fmean(through):7.0f} ms (means over the cycle; +0.4 s of work not counted)")
        except Exception as exc:  # a scheduler that misbehaves: say so, keep the rest of the run
            log(f"  {label}: failed: {exc}")
            for key, text in ((own_key, own_label), (e2e_key, e2e_label)):
                results.add(Figure(key, "End to end", text, "ms", "lower", skipped=f"failed: {exc}"))
            continue
        finally:
            server.stop()
        results.add(Figure(own_key, "End to end", own_label, "ms", "lower", own_rounds, None,
                           note="reference: the scheduler's own latency, same run; mean over the phases of its "
                                "cycle"))
        results.add(Figure(e2e_key, "End to end", e2e_label, "ms", "lower", gateway_rounds, None,
                           Target("max_above", 500.0, f"≤ {label} alone + 500 ms", ref=own_key),
                           note="mean over the same phases; polls every 5 ms once 0.4 s have passed"))
