"""Job-row updates from running jobs, coalesced into one transaction per turn of the I/O thread.

A burst of short jobs produces a "started", a few progress and a "finished" update
per job.  Written one transaction each they keep the I/O thread busy, and a new
job's persist (which a client is waiting for) queues behind them.  Here, updates
that arrive while a write is pending are merged per job (later values win) and
written together; every caller still gets a future that resolves once its update
is in the database.

The write is handed to the I/O thread at the end of the event loop's current
turn, never from inside ``update``: so every update given in one turn is in the
same batch, whatever the thread is doing (handing it over at once let an idle
thread take a batch of one before the next update of the same turn arrived).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from .serial import SerialExecutor
from .store import JobStore

log = logging.getLogger("wpsgate.jobs")


class RowUpdates:
    """Merges ``update(uuid, **values)`` calls; only active jobs are updated (a final state stays)."""

    def __init__(self, store: JobStore, io: SerialExecutor) -> None:
        self.store = store
        self.io = io
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, Any]] = {}
        self._next: "asyncio.Future[None] | None" = None  # the write that has not taken its batch yet

    def update(self, uuid: str, **values: Any) -> "asyncio.Future[None]":
        """Queue an update of one job's row (on the event loop); await the result to know it is written."""
        with self._lock:
            self._pending.setdefault(uuid, {}).update(values)
            if self._next is None:
                loop = asyncio.get_running_loop()
                self._next = loop.create_future()
                self._next.add_done_callback(_log_failure)
                loop.call_soon(self._hand_over, self._next)
            return self._next

    def _hand_over(self, waiter: "asyncio.Future[None]") -> None:
        """Queue the write on the I/O thread; the batch stays open until the thread takes it."""
        def done(write: "asyncio.Future[None]") -> None:
            if waiter.done():
                return
            if write.cancelled():
                waiter.cancel()
            elif write.exception() is not None:
                waiter.set_exception(write.exception())
            else:
                waiter.set_result(None)
        self.io.call(self._write).add_done_callback(done)

    def _write(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, {}
            self._next = None
        if batch:
            self.store.update_active_many(batch)


def _log_failure(future: "asyncio.Future[None]") -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("job rows could not be updated: %s", future.exception())
