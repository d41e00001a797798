"""GetCapabilities throughput while a burst of async submissions is under way, against its idle figure.

Three processes on the machine besides the gateway and its workers: the burst
submitter (``python -m bench.burst URL``: COUNT async Execute requests from
CONCURRENCY connections, as fast as the gateway accepts them), and the
GetCapabilities load (bench.loadgen, 32 connections, with a timeline), which is
also what measures the idle figure just before, so both figures come from the same
tool.  Only the timeline buckets that lie inside the burst's window count.
The CPU seconds each party used in the window are recorded: on a two-core
machine they explain where the throughput went.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

from . import httpclient
from .httpclient import split_url
from .procs import cpu_seconds, descendants
from .results import Figure, Results, Target
from .stats import median

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)


# --- the submitter (its own process) --------------------------------------------------------------------------

async def _submitter(host: str, port: int, target: str, counter: list[int], count: int, results: dict) -> None:
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: wpsgate-bench\r\n\r\n".encode()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while counter[0] < count:
            counter[0] += 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = False
            for line in head.decode("latin-1").split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "connection" and value.strip().lower() == "close":
                    close = True
            body = await reader.readexactly(length)
            status = int(head.split(b" ", 2)[1])
            if status == 200 and b"ProcessAccepted" in body:
                results["accepted"] += 1
            elif status == 503:
                results["busy"] += 1
            else:
                results["other"] += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def submit_burst(url: str, count: int, concurrency: int) -> dict:
    host, port, target = split_url(url)
    results = {"accepted": 0, "busy": 0, "other": 0}
    counter = [0]
    wall_start = time.time()
    started = time.monotonic()
    await asyncio.gather(*(_submitter(host, port, target, counter, count, results) for _ in range(concurrency)))
    results.update(wall_start=wall_start, wall_end=wall_start + (time.monotonic() - started),
                   seconds=time.monotonic() - started)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst")
    parser.add_argument("url")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if not 0 < args.count <= 10000:
        parser.error("--count must be 1..10000")
    json.dump(asyncio.run(submit_burst(args.url, args.count, args.concurrency)), sys.stdout)
    return 0


# --- the measurement ------------------------------------------------------------------------------------------

def _machine_busy_seconds() -> float:
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _loadgen(url: str, seconds: float, connections: int, stop_file: str | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "bench.loadgen", url, "--seconds", str(seconds), "--connections", str(connections)]
    if stop_file:
        argv += ["--stop-file", stop_file]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _finish(process: subprocess.Popen, timeout: float) -> dict:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{process.args[2]} failed: {err[-2000:]}")
    return json.loads(out)


def _drain(server, timeout: float) -> bool:
    """Wait until the gateway has no job accepted or started (its /status/ list)."""
    deadline = time.monotonic() + timeout
    url = server.status_list("status=accepted,started&limit=1")
    while time.monotonic() < deadline:
        body = httpclient.get(url).body
        if json.loads(body)["jobs"] == []:
            return True
        time.sleep(0.25)
    return False


def burst_round(server, settings, log) -> dict:
    idle = _finish(_loadgen(server.capabilities, settings.seconds, settings.connections), settings.seconds + 60)
    with tempfile.TemporaryDirectory(prefix="wpsgate-bench-burst-") as folder:
        stop_file = os.path.join(folder, "stop")
        load = _loadgen(server.capabilities, 120, settings.connections, stop_file)
        burst_process = None
        try:
            time.sleep(0.5)  # the load is running before the burst starts
            url = server.execute("hello", "name=World", store=True, status=True)
            pids = [server.pid] + descendants(server.pid)
            cpu_before = (cpu_seconds([server.pid]), cpu_seconds(pids[1:]), _machine_busy_seconds())
            burst_process = subprocess.Popen(
                [sys.executable, "-m", "bench.burst", url, "--count", str(settings.burst_count), "--concurrency",
                 str(settings.burst_concurrency)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True)
            burst = _finish(burst_process, 300)
            pids = [server.pid] + descendants(server.pid)
            cpu_after = (cpu_seconds([server.pid]), cpu_seconds(pids[1:]), _machine_busy_seconds())
            open(stop_file, "w").close()
            during = _finish(load, 60)
        finally:
            for process in (load, burst_process):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait(5)
    start = burst["wall_start"] - during["wall_start"]
    end = burst["wall_end"] - during["wall_start"]
    bucket = during["bucket"]
    first, last = int(start / bucket) + 1, int(end / bucket)  # whole buckets inside the burst
    inside = during["timeline"][first:last]
    window = len(inside) * bucket
    rate = sum(inside) / window if window > 0 else float("nan")
    drained = _drain(server, 300)
    wall = burst["seconds"]
    result = {
        "idle": idle["requests_per_second"], "during": rate, "ratio": rate / idle["requests_per_second"],
        "burst_seconds": wall, "accepted": burst["accepted"], "busy": burst["busy"], "other": burst["other"],
        "submissions_per_second": burst["accepted"] / wall if wall else float("nan"),
        "gateway_cpu": cpu_after[0] - cpu_before[0], "workers_cpu": cpu_after[1] - cpu_before[1],
        "machine_cpu": cpu_after[2] - cpu_before[2], "drained": drained, "window": window,
        "load_errors": during["errors"] + during["non2xx"],
    }
    log(f"  burst of {settings.burst_count}: GetCapabilities {result['idle']:.0f} req/s idle, "
        f"{rate:.0f} during ({result['ratio']:.2f}); {burst['accepted']} accepted in {wall:.2f} s; CPU s in the "
        f"burst: gateway {result['gateway_cpu']:.2f}, workers {result['workers_cpu']:.2f}, "
        f"machine {result['machine_cpu']:.2f} of {2 * wall:.2f}")
    return result


def burst_figure(results: Results, settings, server, log) -> None:
    rounds = [burst_round(server, settings, log) for _ in range(settings.burst_rounds)]
    results.add(Figure(
        "burst_ratio", "Under load",
        f"GetCapabilities req/s during a burst of {settings.burst_count} async submissions ÷ idle req/s", "×",
        "higher", [r["ratio"] for r in rounds], None, Target("min", 0.5, "≥ 0.5"),
        note="both figures from bench.loadgen (asyncio, 32 connections), idle measured just before",
        detail={"rounds": rounds, "idle": median([r["idle"] for r in rounds]),
                "during": median([r["during"] for r in rounds])}))


if __name__ == "__main__":
    sys.exit(main())
