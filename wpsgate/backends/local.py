"""The local pool: warm worker processes that run jobs without a scheduler (the embedded default).

Workers are started once (spawn, so they inherit no threads or sockets of the
gateway) and reused.  Each has one pipe and one reader thread that hands
messages to the event loop; the loop itself never blocks on a pipe.  A worker that
dies, or is killed for a timeout or a dismiss, is replaced by a fresh one and its
job fails with the reason.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import threading
from typing import Callable, Mapping, Sequence

from ..jobs.runner import JobOutcome, JobSpec
from .worker import worker_main

log = logging.getLogger("wpsgate.local")
_CONTEXT = multiprocessing.get_context("spawn")
_INLINE_SEND_LIMIT = 64 * 1024


class WorkerLost(Exception):
    """The worker running a job died or was killed; the message says how."""


class _Worker:
    def __init__(self, pool: "WorkerPool") -> None:
        self.pool = pool
        parent, child = _CONTEXT.Pipe(duplex=True)
        self.connection = parent
        self.process = _CONTEXT.Process(target=worker_main,
                                        args=(child, pool.process_paths, pool.niceness, pool.environment),
                                        daemon=True, name="wpsgate-worker")
        self.process.start()
        child.close()
        self.ready: asyncio.Future = pool.loop.create_future()
        self.job: asyncio.Future | None = None
        self.job_uuid: str | None = None
        self.on_progress: Callable[[str, int, bytes | None], None] | None = None
        self.kill_reason: str | None = None
        self.reader = threading.Thread(target=self._read, name="wpsgate-worker-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        loop = self.pool.loop
        while True:
            try:
                message = self.connection.recv()
            except (EOFError, OSError):
                break
            except Exception as exc:  # an unpicklable message: the job cannot be trusted
                log.error("worker %s sent an unreadable message: %s", self.process.pid, exc)
                break
            try:
                loop.call_soon_threadsafe(self._dispatch, message)
            except RuntimeError:  # the loop is closed: the gateway is shutting down
                return
        self.process.join()
        try:
            loop.call_soon_threadsafe(self._died)
        except RuntimeError:
            pass

    def _dispatch(self, message: tuple) -> None:
        kind = message[0]
        if kind == "ready":
            if not self.ready.done():
                self.ready.set_result(True)
        elif kind == "progress" and message[1] == self.job_uuid and self.on_progress is not None:
            self.on_progress(message[2], message[3], message[4])
        elif kind == "done" and message[1] == self.job_uuid and self.job is not None and not self.job.done():
            self.job.set_result(message[2])

    def _died(self) -> None:
        code = self.process.exitcode
        reason = self.kill_reason or (
            f"the worker process running the job died (killed by signal {-code})" if code is not None and code < 0
            else f"the worker process running the job exited unexpectedly (exit code {code})")
        if self.pool.closing:  # the gateway is stopping: nobody waits for these any more (the job is recovered)
            for future in (self.ready, self.job):
                if future is not None and not future.done():
                    future.cancel()
        if not self.ready.done():
            self.ready.set_exception(WorkerLost(f"a worker process failed to start: {reason}"))
        if self.job is not None and not self.job.done():
            self.job.set_exception(WorkerLost(reason))
        self.pool._replace(self)

    def kill(self, reason: str) -> None:
        self.kill_reason = reason
        if self.process.is_alive():
            self.process.kill()


class WorkerPool:
    """A fixed number of warm workers; ``acquire`` hands out an idle one, ``run`` runs a job on it."""

    def __init__(self, size: int, process_paths: Sequence[str], niceness: int = 0,
                 environment: Mapping[str, str] | None = None) -> None:
        """``environment``: the workers' whole environment (None: the gateway's, as inherited)."""
        self.size = max(1, size)
        self.process_paths = tuple(process_paths)
        self.niceness = niceness
        self.environment = dict(environment) if environment is not None else None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.idle: asyncio.Queue[_Worker] | None = None
        self.workers: set[_Worker] = set()
        self.closing = False

    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.idle = asyncio.Queue()
        started = [self._spawn() for _ in range(self.size)]
        await asyncio.gather(*(w.ready for w in started))
        for worker in started:
            self.idle.put_nowait(worker)

    def _spawn(self) -> _Worker:
        worker = _Worker(self)
        self.workers.add(worker)
        return worker

    def _replace(self, dead: _Worker) -> None:
        self.workers.discard(dead)
        if self.closing:
            return
        log.warning("replacing worker %s (%s)", dead.process.pid, dead.kill_reason or "died")
        fresh = self._spawn()

        def ready(future: asyncio.Future) -> None:
            if future.exception() is None and not self.closing:
                self.idle.put_nowait(fresh)

        fresh.ready.add_done_callback(ready)

    async def acquire(self, timeout: float | None = None) -> _Worker:
        """An idle worker; raises asyncio.TimeoutError after ``timeout`` seconds."""
        while True:
            worker = await asyncio.wait_for(self.idle.get(), timeout) if timeout else await self.idle.get()
            if worker.process.is_alive() and worker in self.workers:
                return worker

    def release(self, worker: _Worker) -> None:
        if worker in self.workers and worker.process.is_alive() and worker.kill_reason is None:
            self.idle.put_nowait(worker)

    async def run(self, worker: _Worker, spec: JobSpec,
                  on_progress: Callable[[str, int, bytes | None], None] | None = None,
                  timeout: float | None = None) -> JobOutcome:
        """Run ``spec`` on ``worker``; on timeout the worker is killed and WorkerLost says so."""
        worker.job = self.loop.create_future()
        worker.job_uuid = spec.uuid
        worker.on_progress = on_progress
        data = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            if len(data) <= _INLINE_SEND_LIMIT:
                worker.connection.send_bytes(data)
            else:
                await self.loop.run_in_executor(None, worker.connection.send_bytes, data)
            try:
                return await asyncio.wait_for(asyncio.shield(worker.job), timeout)
            except asyncio.TimeoutError:
                worker.kill(f"the job timed out after {timeout:g} s and was stopped")
                try:
                    await worker.job
                except WorkerLost:
                    pass
                raise WorkerLost(worker.kill_reason) from None
        finally:
            worker.job_uuid = None
            worker.on_progress = None
            self.release(worker)

    def kill_job(self, uuid: str, reason: str) -> bool:
        """Kill the worker running job ``uuid`` (dismiss); False when no worker runs it."""
        for worker in list(self.workers):
            if worker.job_uuid == uuid:
                worker.kill(reason)
                return True
        return False

    async def close(self) -> None:
        self.closing = True
        for worker in list(self.workers):
            try:
                worker.connection.close()
            except OSError:
                pass
        for worker in list(self.workers):
            worker.process.join(timeout=0)
        deadline = self.loop.time() + 3
        for worker in list(self.workers):
            while worker.process.is_alive() and self.loop.time() < deadline:
                await asyncio.sleep(0.05)
            if worker.process.is_alive():
                worker.process.kill()
