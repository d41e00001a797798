"""Job metrics fed from the job engine's events: jobs by state, queue depth, workers busy, latencies.

``JobMetrics(registry).observe(event)`` is meant to be the job engine's observer for
every job event (see ``events`` for the attributes it reads); it keeps a small map of
the unfinished jobs (id -> state, process, backend, acceptance time), so the gauges
follow the transitions and a job that ends is forgotten.  The map is bounded by the
unfinished jobs the engine itself admits (maxqueue, scheduler.maxjobs).

Metrics (labels bounded: process identifiers are the configured ones, backend one of
local/slurm/drmaa, state and event from fixed lists):

- ``wpsgate_jobs{state,process,backend}``: unfinished jobs, state queued or running
- ``wpsgate_job_events_total{event,process,backend}``: every lifecycle event but progress
- ``wpsgate_queue_depth{backend}``: jobs waiting (accepted, queued, or pending in the scheduler)
- ``wpsgate_workers_busy``: local workers running a job
- ``wpsgate_job_duration_seconds{process,backend,state}``: end to end, acceptance to the end
- ``wpsgate_scheduler_submit_seconds{backend}``, ``wpsgate_scheduler_poll_seconds{backend}``
- ``wpsgate_scheduler_errors_total{backend,operation}``
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .events import FINAL_KINDS

QUEUED_KINDS = ("accepted", "queued", "submitted", "recovered")
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0,
                    86400.0)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class _Unfinished:
    state: str  # queued or running
    process: str
    backend: str
    created: float


class JobMetrics:
    def __init__(self, registry: CollectorRegistry, clock: Any = time.time) -> None:
        self.clock = clock
        self.jobs = Gauge("wpsgate_jobs", "Unfinished jobs by state (queued, running), process and backend",
                          ["state", "process", "backend"], registry=registry)
        self.events = Counter("wpsgate_job_events", "Job lifecycle events by event, process and backend",
                              ["event", "process", "backend"], registry=registry)
        self.queue_depth = Gauge("wpsgate_queue_depth", "Jobs waiting to run, by backend", ["backend"],
                                 registry=registry)
        self.workers_busy = Gauge("wpsgate_workers_busy", "Local workers running a job", registry=registry)
        self.duration = Histogram("wpsgate_job_duration_seconds",
                                  "End-to-end job time, from acceptance to its end, by process, backend and end state",
                                  ["process", "backend", "state"], buckets=DURATION_BUCKETS, registry=registry)
        self.submit_seconds = Histogram("wpsgate_scheduler_submit_seconds", "Time of one scheduler submission",
                                        ["backend"], buckets=CALL_BUCKETS, registry=registry)
        self.poll_seconds = Histogram("wpsgate_scheduler_poll_seconds",
                                      "Time of one scheduler query for all unfinished jobs", ["backend"],
                                      buckets=CALL_BUCKETS, registry=registry)
        self.scheduler_errors = Counter("wpsgate_scheduler_errors", "Scheduler calls that failed, by operation",
                                        ["backend", "operation"], registry=registry)
        self._unfinished: dict[str, _Unfinished] = {}
        self._lock = threading.Lock()  # events may come from the event loop and the engine's threads

    def observe(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        backend = getattr(event, "backend", "") or "unknown"
        if kind in ("scheduler_submit", "scheduler_poll"):
            self._scheduler_call(kind, backend, event)
            return
        job_id = getattr(event, "job_id", "")
        process = getattr(event, "process", "") or "unknown"
        with self._lock:
            if kind != "progress":
                self.events.labels(kind, process, backend).inc()
            if kind in QUEUED_KINDS:
                self._move(job_id, "queued", process, backend, float(getattr(event, "created", 0.0) or 0.0))
            elif kind in ("started", "progress"):
                self._move(job_id, "running", process, backend, float(getattr(event, "created", 0.0) or 0.0))
            elif kind in FINAL_KINDS:
                self._end(job_id, kind, process, backend, float(getattr(event, "created", 0.0) or 0.0))

    def _scheduler_call(self, kind: str, backend: str, event: Any) -> None:
        histogram = self.submit_seconds if kind == "scheduler_submit" else self.poll_seconds
        histogram.labels(backend).observe(float(getattr(event, "duration", 0.0) or 0.0))
        if not getattr(event, "ok", True):
            self.scheduler_errors.labels(backend, kind.split("_", 1)[1]).inc()

    def _gauges(self, job: _Unfinished, delta: int) -> None:
        self.jobs.labels(job.state, job.process, job.backend).inc(delta)
        if job.state == "queued":
            self.queue_depth.labels(job.backend).inc(delta)
        elif job.backend == "local":
            self.workers_busy.inc(delta)

    def _move(self, job_id: str, state: str, process: str, backend: str, created: float) -> None:
        job = self._unfinished.get(job_id)
        if job is not None:
            if job.state == state:
                return
            self._gauges(job, -1)
            job.state = state
        else:
            job = _Unfinished(state, process, backend, created or self.clock())
            self._unfinished[job_id] = job
        self._gauges(job, +1)

    def _end(self, job_id: str, state: str, process: str, backend: str, created: float) -> None:
        job = self._unfinished.pop(job_id, None)
        if job is None:  # already over (a finished job that expires or is dismissed): no second end
            return
        self._gauges(job, -1)
        self.duration.labels(job.process, job.backend, state).observe(max(0.0, self.clock() - (created or job.created)))

    @property
    def unfinished(self) -> int:
        return len(self._unfinished)
