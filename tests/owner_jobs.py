"""Run Execute requests as named users through the gateway's real assembly (no HTTP), and print the jobs.

``python -m tests.owner_jobs '<json>'`` with ``{"config": {...}, "jobs": [{"user": "alice", "identifier":
"sleep", "inputs": "delay=0.2"}, ...]}`` builds the gateway exactly as ``wpsgate serve`` does
(``build_gateway``: job store, runners, scheduler, limits, accounting), gives each request its caller
as the identity layer would (so the job's owner is that user, however hostile its name), starts all the requests at once (so that they share a
submission round), waits until every job has ended, and prints one JSON object per job: uuid,
owner, status and scheduler id.  It runs in its own process because a DRMAA library must be
loaded with the environment of slurm-demo/gridengine.env from the start.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

from wpsgate.config import config_from_mapping
from wpsgate.protocol.kvp import parse_kvp
from wpsgate.auth.caller import Caller
from wpsgate.server.app import build_gateway


async def run(settings: dict) -> list[dict]:
    config = config_from_mapping(settings["config"])
    gateway = await build_gateway(config)
    service = gateway.service
    try:
        calls = []
        for job in settings["jobs"]:
            query = (f"service=WPS&request=Execute&version=1.0.0&identifier={job['identifier']}"
                     f"&storeExecuteResponse=true&DataInputs={job.get('inputs', '')}")
            caller = Caller(job["user"]) if job.get("user") else None  # as the front door would identify it
            calls.append(service.start(parse_kvp(query), caller))
        started = await asyncio.gather(*calls)
        uuids = [s.spec.uuid for s in started]
        deadline = time.monotonic() + settings.get("timeout", 120)
        records = []
        while time.monotonic() < deadline:
            records = [await gateway.engine.io_call(gateway.store.get, uuid) for uuid in uuids]
            if all(r.status in ("succeeded", "failed") for r in records):
                break
            await asyncio.sleep(0.5)
        return [{"uuid": r.uuid, "owner": r.owner, "status": r.status, "message": r.message,
                 "backend_id": r.backend_id, "timeout": r.timeout} for r in records]
    finally:
        await gateway.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(json.loads(sys.argv[1])))))
