"""Callbacks (``subscriber``): the gateway tells a client's URIs of a job's progress and end.

``inProgressUri`` gets the statusInfo when the job starts running and as its progress changes,
``successUri`` the results document, ``failedUri`` the problem that says why (a dismissed job
counts as failed).  The gateway follows each subscribed job by reading the job table (the same
truth every other route reads, whichever backend runs the job) and POSTs JSON, retrying a few
times with growing pauses.  Callback addresses obey the address policy of input references
(``server.allowednetworks``; checked on the resolved address at connect time, no redirects
followed), so a subscriber cannot make the gateway reach internal services.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

from tornado.httpclient import HTTPRequest

from ..jobs.folder import JobFolder
from ..jobs.staging import policy_bound_client
from .execute import Subscriber
from .problems import JOB_RESULTS_FAILED, SERVER_BUSY, Problem
from .results import NoResults, results_from_document
from .status import FINAL_STATUSES, status_info

log = logging.getLogger("wpsgate.ogcapi.callbacks")
RETRY_PAUSES = (1.0, 4.0, 15.0)  # after the first attempt fails: three more, then the callback is given up
MAX_FOLLOWED = 1000  # jobs with callbacks followed at once; more are refused at execute


class CallbackSender:
    def __init__(self, engine: Any, base: str, spool: str, allowed_networks: tuple[str, ...] = (),
                 timeout: float = 10.0, poll: float = 0.5, max_follow_seconds: float = 31 * 86400.0) -> None:
        self.engine = engine
        self.base = base
        self.spool = spool
        self.timeout = timeout
        self.poll = poll
        self.max_follow_seconds = max_follow_seconds
        self.tasks: set[asyncio.Task] = set()
        self.client = policy_bound_client(allowed_networks, 8)

    def check_room(self) -> None:
        if len(self.tasks) >= MAX_FOLLOWED:
            raise Problem(SERVER_BUSY, 503, f"{MAX_FOLLOWED} jobs with callbacks are running; try again later")

    def follow(self, uuid: str, subscriber: Subscriber) -> None:
        task = asyncio.create_task(self._follow(uuid, subscriber), name=f"wpsgate-callbacks-{uuid}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        self.client.close()

    async def _follow(self, uuid: str, subscriber: Subscriber) -> None:
        try:
            deadline = time.monotonic() + self.max_follow_seconds
            reported: tuple[str, int] | None = None
            pause = self.poll
            while time.monotonic() < deadline:
                record = await self.engine.read(self.engine.current, uuid)
                if record is None:
                    return
                info = status_info(record, self.base)
                if info["status"] in FINAL_STATUSES:
                    await self._final(uuid, record, info, subscriber)
                    return
                if subscriber.in_progress and info["status"] == "running" and \
                        reported != (info["status"], info["progress"]):
                    reported = (info["status"], info["progress"])
                    await self.send(subscriber.in_progress, info)
                await asyncio.sleep(pause)
                pause = min(pause * 1.2, 5.0)
        except asyncio.CancelledError:
            raise
        except Exception:  # a callback is a courtesy: it never disturbs the gateway
            log.exception("callbacks of job %s stopped", uuid)

    async def _final(self, uuid: str, record: Any, info: dict[str, Any], subscriber: Subscriber) -> None:
        if info["status"] == "successful" and subscriber.success:
            try:
                document = await asyncio.get_running_loop().run_in_executor(
                    None, _read, JobFolder(self.spool, uuid).status)
                body: Any = results_from_document(document)
            except (OSError, NoResults):
                body = info
            await self.send(subscriber.success, body)
        elif info["status"] != "successful" and subscriber.failed:
            problem = Problem(JOB_RESULTS_FAILED, 500, f"job {uuid} {record.status}: {record.message}")
            document = problem.document(f"/jobs/{uuid}")
            document["jobID"] = uuid
            await self.send(subscriber.failed, document)

    async def send(self, url: str, body: Any) -> bool:
        """POST ``body`` as JSON to ``url``; True once a 2xx came back, False after the last retry."""
        payload = json.dumps(body).encode("utf-8")
        for attempt, pause in enumerate((0.0, *RETRY_PAUSES)):
            if pause:
                await asyncio.sleep(pause)
            request = HTTPRequest(url, method="POST", body=payload, follow_redirects=False,
                                  headers={"Content-Type": "application/json", "User-Agent": "wpsgate callbacks"},
                                  connect_timeout=min(5.0, self.timeout), request_timeout=self.timeout,
                                  streaming_callback=lambda chunk: None)  # the answer's body is not kept
            try:
                response = await self.client.fetch(request, raise_error=False)
            except Exception as exc:  # refused by the address policy, or no connection
                log.warning("callback to %s (attempt %d) failed: %s", url, attempt + 1, exc)
                if "not allowed" in str(exc):
                    return False  # the policy will not change between attempts
                continue
            if 200 <= response.code < 300:
                return True
            log.warning("callback to %s (attempt %d) answered HTTP %s", url, attempt + 1, response.code)
        return False


def _read(path: str) -> bytes:
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
        return handle.read()
