"""The gateway's own Prometheus metrics: HTTP answers, request latency, Execute latency, reference inputs.

Everything is registered in a registry of the gateway's own (not prometheus_client's
process-wide default), so two gateways in one process, or in one test run, never share
a counter.  The registry also carries the process collector (CPU, memory, open files)
and ``wpsgate_build_info``; the job metrics (``job_metrics.JobMetrics``) register into
the same registry, so one scrape of ``/metrics`` returns them all.

Labels are bounded: a route is one of the gateway's route names (never the path), a
process label only ever takes a configured process identifier, a scheme one of
http/https/file/own.  Recording costs a dictionary lookup and an addition under a lock:
the children of the hot routes are bound once.
"""
from __future__ import annotations

import time
from typing import Any, Iterable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               PlatformCollector, ProcessCollector, generate_latest)

# Request latency: from loopback answers served from memory (~0.1 ms) to synchronous Executes (minutes).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0)
ACCEPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SYNC_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


class GatewayMetrics:
    """The HTTP side's metrics and the registry /metrics renders."""

    def __init__(self, version: str, process_collector: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_collector:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        Gauge("wpsgate_build_info", "The running wpsgate version (always 1)", ["version"],
              registry=self.registry).labels(version).set(1)
        self.responses = Counter("wpsgate_http_responses", "HTTP answers by route, method and status code",
                                 ["route", "method", "code"], registry=self.registry)
        self.latency = Histogram("wpsgate_http_request_duration_seconds",
                                 "Time from the request's arrival to its answer, by route", ["route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        self.accept = Histogram("wpsgate_execute_accept_seconds",
                                "Time to answer an asynchronous Execute (ProcessAccepted: checked, staged, "
                                "persisted, submitted), by process", ["process"], buckets=ACCEPT_BUCKETS,
                                registry=self.registry)
        self.sync = Histogram("wpsgate_execute_sync_seconds",
                              "Time to answer a synchronous Execute (the whole run), by process", ["process"],
                              buckets=SYNC_BUCKETS, registry=self.registry)
        self.reference_inputs = Counter("wpsgate_reference_inputs",
                                        "Inputs given by reference and staged into a job folder, by scheme",
                                        ["scheme"], registry=self.registry)
        self.reference_bytes = Counter("wpsgate_reference_bytes",
                                       "Bytes of inputs given by reference staged into job folders, by scheme",
                                       ["scheme"], registry=self.registry)
        self.reference_failures = Counter("wpsgate_reference_failures",
                                          "Executes refused because an input reference could not be staged, "
                                          "by OWS exception code", ["code"], registry=self.registry)
        self._latency_children: dict[str, Any] = {}
        self._response_children: dict[tuple[str, str, int], Any] = {}

    def observe_http(self, route: str, method: str, code: int, seconds: float) -> None:
        """One answer sent (any route, also those answered from memory)."""
        key = (route, method, code)
        child = self._response_children.get(key)
        if child is None:
            child = self._response_children.setdefault(key, self.responses.labels(route, method, str(code)))
        child.inc()
        latency = self._latency_children.get(route)
        if latency is None:
            latency = self._latency_children.setdefault(route, self.latency.labels(route))
        latency.observe(seconds)

    def observe_execute(self, process: str, asynchronous: bool, seconds: float) -> None:
        (self.accept if asynchronous else self.sync).labels(process).observe(seconds)

    def observe_references(self, staged: Iterable[tuple[str, int]]) -> None:
        """``staged``: (scheme, bytes) of every reference input of one Execute that was staged."""
        for scheme, size in staged:
            self.reference_inputs.labels(scheme).inc()
            self.reference_bytes.labels(scheme).inc(size)

    def observe_reference_failure(self, code: str) -> None:
        self.reference_failures.labels(code).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its Content-Type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Stopwatch:
    """``perf_counter`` at construction; ``seconds`` since."""

    __slots__ = ("start",)

    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start
