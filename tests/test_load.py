"""Load: a burst of 1,000 async jobs on each backend with 100 concurrent pollers.

Every job must reach a final state, no poll may fail or return a partial or invalid
document, and the gateway's memory must stay bounded. Loopback only, bounded in count
and time.
"""
import asyncio
import time
import urllib.parse

import pytest
from lxml import etree
from tornado.httpclient import AsyncHTTPClient

from .gateway import NS
from .schedulers import gridengine_env, require
from .schemas import assert_valid

JOBS = 1000
POLLERS = 100
MODES = {"local": (None, 180), "slurm": ("slurm", 600), "drmaa": ("gridengine", 600)}
RSS_LIMIT_MB = 400


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


async def burst(gateway, deadline_seconds):
    client = AsyncHTTPClient(force_instance=True, max_clients=POLLERS + 20)
    deadline = time.monotonic() + deadline_seconds
    errors, locations, rss = [], [], [rss_mb(gateway.process.pid)]
    limit = asyncio.Semaphore(20)

    async def submit(i):
        query = urllib.parse.urlencode({"service": "WPS", "request": "Execute", "version": "1.0.0",
                                        "identifier": "hello", "DataInputs": f"name=n{i}",
                                        "storeExecuteResponse": "true", "status": "true"})
        async with limit:
            response = await client.fetch(f"{gateway.wps}?{query}", raise_error=False, request_timeout=120)
        if response.code != 200 or b"ProcessAccepted" not in response.body:
            errors.append(f"submit {i}: HTTP {response.code} {response.body[:300]!r}")
            return
        locations.append(etree.fromstring(response.body).get("statusLocation"))

    await asyncio.gather(*(submit(i) for i in range(JOBS)))
    pending = asyncio.Queue()
    for location in locations:
        pending.put_nowait(location)
    finals = {}
    polls = 0

    async def poller():
        nonlocal polls
        while time.monotonic() < deadline and len(finals) < len(locations):
            try:
                location = pending.get_nowait()
            except asyncio.QueueEmpty:
                await asyncio.sleep(0.05)
                continue
            response = await client.fetch(location, raise_error=False, request_timeout=60)
            polls += 1
            try:
                assert response.code == 200, f"HTTP {response.code}"
                root = assert_valid(response.body)
            except Exception as exc:  # noqa: BLE001 - every bad poll is collected and reported
                errors.append(f"poll {location}: {exc}")
                pending.put_nowait(location)
                continue
            state = etree.QName(root.find("wps:Status", NS)[0]).localname
            if state in ("ProcessSucceeded", "ProcessFailed"):
                finals[location] = (state, root)
            else:
                pending.put_nowait(location)
                await asyncio.sleep(0.2)  # 100 pollers at up to ~500 polls/s: load, not a CPU race with the jobs

    async def sample_memory():
        while time.monotonic() < deadline and len(finals) < len(locations):
            rss.append(rss_mb(gateway.process.pid))
            await asyncio.sleep(1)

    await asyncio.gather(*(poller() for _ in range(POLLERS)), sample_memory())
    client.close()
    return locations, finals, errors, polls, rss


@pytest.mark.parametrize("mode", list(MODES))
def test_burst_of_1000_async_jobs_with_100_pollers(fresh_gateway, mode):
    scheduler, deadline = MODES[mode]
    if scheduler:
        require(scheduler)
    config = {"processing": {"mode": mode, "parallelprocesses": 2, "maxqueue": JOBS}}
    if scheduler:
        config["scheduler"] = {"poll_interval": 1.0, "nfs_grace": 3.0}
    gateway = fresh_gateway(config, env=gridengine_env() if mode == "drmaa" else {})
    locations, finals, errors, polls, rss = asyncio.run(burst(gateway, deadline))
    assert not errors, errors[:5]
    assert len(locations) == JOBS
    assert len(finals) == JOBS, f"{JOBS - len(finals)} jobs did not finish within {deadline} s"
    failed = [loc for loc, (state, _) in finals.items() if state != "ProcessSucceeded"]
    assert not failed, failed[:5]
    for location, (_, root) in list(finals.items())[:50]:
        name = root.findtext("wps:ProcessOutputs/wps:Output/wps:Data/wps:LiteralData", namespaces=NS)
        assert name and name.startswith("Hello n")
    assert polls >= JOBS
    assert max(rss) < RSS_LIMIT_MB, f"gateway RSS peaked at {max(rss):.0f} MB"
    listing = gateway.session.get(gateway.base + "/status/", params={"limit": 1000, "process": "hello"},
                                  timeout=30).json()["jobs"]
    records = {job["status"] for job in listing}
    deadline_rows = time.monotonic() + 30
    while records != {"succeeded"} and time.monotonic() < deadline_rows:  # the table follows within a poll
        time.sleep(1)
        listing = gateway.session.get(gateway.base + "/status/", params={"limit": 1000, "process": "hello"},
                                      timeout=30).json()["jobs"]
        records = {job["status"] for job in listing}
    assert len(listing) == JOBS and records == {"succeeded"}, records
