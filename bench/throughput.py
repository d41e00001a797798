"""Requests per second of one GET URL at N connections: wrk where installed, else bench.loadgen."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)


def tool() -> str:
    """wrk where installed, else the asyncio generator; BENCH_LOADGEN=asyncio forces the latter."""
    if os.environ.get("BENCH_LOADGEN") == "asyncio":
        return "asyncio"
    return "wrk" if shutil.which("wrk") else "asyncio"


def wrk_version() -> str:
    if not shutil.which("wrk"):
        return ""
    result = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "?"


_UNITS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6}


def _wrk(url: str, seconds: float, connections: int) -> dict:
    threads = min(2, connections)
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    out = result.stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if result.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({result.returncode}): {out}{result.stderr}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {"requests_per_second": float(match.group(1)), "ok": int(total.group(1)) if total else 0,
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(int(g) for g in errors.groups()) if errors else 0, "tool": "wrk"}


def _asyncio(url: str, seconds: float, connections: int) -> dict:
    argv = [sys.executable, "-m", "bench.loadgen", url, "--seconds", str(seconds), "--connections", str(connections)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, cwd=REPO)
    if result.returncode != 0:
        raise RuntimeError(f"bench.loadgen failed: {result.stderr[-2000:]}")
    data = json.loads(result.stdout)
    data.pop("timeline", None)
    data["tool"] = "asyncio"
    return data


def measure(url: str, seconds: float, connections: int = 32) -> dict:
    """{'requests_per_second', 'ok', 'non2xx', 'errors', 'tool'}; non-2xx answers are not counted as served."""
    data = _wrk(url, seconds, connections) if tool() == "wrk" else _asyncio(url, seconds, connections)
    if data["non2xx"] and data["tool"] == "wrk":
        # wrk counts every answer in Requests/sec; only the good ones count here
        good = max(0, data["ok"] - data["non2xx"])
        data["requests_per_second"] = data["requests_per_second"] * good / max(1, data["ok"])
    return data
