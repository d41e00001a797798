"""An asyncio HTTP/1.1 load generator: N keep-alive connections repeating one GET for a while.

Used where wrk is not installed, and for the burst test, where it records a
timeline (completions per 50 ms, wall-clock stamped) so that the throughput can
be counted exactly over the window in which the burst was under way.  It runs in
its own process (``python -m bench.loadgen URL --seconds S --connections C``) and
prints one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

from .httpclient import split_url

BUCKET = 0.05


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    close = headers.get("connection", "").lower() == "close"
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            await reader.readexactly(size + 2)
    else:
        await reader.read()
        close = True
    return status, close


async def _worker(host: str, port: int, request: bytes, deadline: list[float], counts: dict, timeline: dict,
                  start: float) -> None:
    reader = writer = None
    while time.monotonic() < deadline[0]:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(request)
            status, close = await asyncio.wait_for(_read_response(reader), 30)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            counts["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        except asyncio.TimeoutError:
            counts["errors"] += 1
            break
        now = time.monotonic()
        if now > deadline[0]:
            break
        if 200 <= status < 400:
            counts["ok"] += 1
            slot = int((now - start) / BUCKET)
            timeline[slot] = timeline.get(slot, 0) + 1
        else:
            counts["non2xx"] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def _watch(stop_file: str, deadline: list[float]) -> None:
    """Move the deadline to now once ``stop_file`` exists (the caller's measurement window is over)."""
    while time.monotonic() < deadline[0]:
        if os.path.exists(stop_file):
            deadline[0] = time.monotonic()
            return
        await asyncio.sleep(0.02)


async def run(url: str, seconds: float, connections: int, stop_file: str | None = None) -> dict:
    host, port, target = split_url(url)
    request = f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: wpsgate-bench\r\n\r\n".encode()
    counts = {"ok": 0, "errors": 0, "non2xx": 0}
    timeline: dict[int, int] = {}
    start = time.monotonic()
    wall_start = time.time()
    deadline = [start + seconds]
    watcher = asyncio.create_task(_watch(stop_file, deadline)) if stop_file else None
    await asyncio.gather(*(_worker(host, port, request, deadline, counts, timeline, start)
                           for _ in range(connections)))
    if watcher is not None:
        watcher.cancel()
    elapsed = time.monotonic() - start
    return {"requests_per_second": counts["ok"] / elapsed, "ok": counts["ok"], "errors": counts["errors"],
            "non2xx": counts["non2xx"], "seconds": seconds, "elapsed": elapsed, "wall_start": wall_start,
            "bucket": BUCKET, "timeline": [timeline.get(i, 0) for i in range(int(seconds / BUCKET) + 1)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.loadgen")
    parser.add_argument("url")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stop-file", help="stop early once this file exists")
    args = parser.parse_args(argv)
    if not 0 < args.seconds <= 120:
        parser.error("--seconds must be in (0, 120]")
    result = asyncio.run(run(args.url, args.seconds, args.connections, args.stop_file))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
