"""Measuring from the HTTP layer: answers, latency, Execute latency and staged references.

The service and the stager are wrapped rather than changed: the wrappers time the
calls the HTTP layer makes and count what came back, so the job engine and the
staging code know nothing of metrics.
"""
from __future__ import annotations

import asyncio
import os
from typing import Any
from urllib.parse import urlparse

import tornado.web

from ..exceptions import OWSException
from ..monitoring.http_metrics import GatewayMetrics, Stopwatch
from ..protocol.requests import ExecuteRequest


class MeasuredApplication(tornado.web.Application):
    """Tornado's Application, counting every answer it sends by route (the handler's ``route``)."""

    def __init__(self, *args: Any, metrics: GatewayMetrics | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.metrics = metrics

    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        super().log_request(handler)
        if self.metrics is not None:
            route = getattr(handler, "route", None) or "other"
            self.metrics.observe_http(route, handler.request.method or "", handler.get_status(),
                                      handler.request.request_time())


class MeasuredService:
    """The WPS service, with each successful Execute's answer time recorded (accept latency when async)."""

    def __init__(self, service: Any, metrics: GatewayMetrics) -> None:
        self.service = service
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.service, name)

    async def handle(self, request: Any, caller: Any = None) -> Any:
        if not isinstance(request, ExecuteRequest):
            return await self.service.handle(request, caller)
        watch = Stopwatch()
        answer = await self.service.handle(request, caller)
        if request.identifier in self.service.processes:  # only configured identifiers become label values
            self.metrics.observe_execute(request.identifier, bool(request.store_execute_response), watch.seconds)
        return answer


def reference_scheme(url: str, own_outputs: str) -> str:
    """http, https, file or own (the gateway's own outputs); other schemes are refused before staging."""
    if own_outputs and url.startswith(own_outputs):
        return "own"
    scheme = urlparse(url).scheme.lower()
    return scheme if scheme in ("http", "https", "file") else "other"


def _sizes(paths: list[tuple[str, str]]) -> list[tuple[str, int]]:
    sizes = []
    for scheme, path in paths:
        try:
            sizes.append((scheme, os.stat(path).st_size))
        except OSError:
            sizes.append((scheme, 0))
    return sizes


class MeasuredStager:
    """The reference stager, with staged inputs (count and bytes by scheme) and failures counted."""

    def __init__(self, stager: Any, metrics: GatewayMetrics) -> None:
        self.stager = stager
        self.metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stager, name)

    async def stage(self, uuid: str, inputs: dict[str, list[Any]], references: dict[tuple[str, int], Any]) -> None:
        pending = [item for values in inputs.values() for item in values
                   if getattr(item, "kind", None) == "complex" and getattr(item, "url", None) is not None
                   and getattr(item, "_path", None) is None and getattr(item, "_payload", None) is None]
        try:
            await self.stager.stage(uuid, inputs, references)
        except OWSException as exc:
            self.metrics.observe_reference_failure(exc.code)
            raise
        except Exception:
            self.metrics.observe_reference_failure("NoApplicableCode")
            raise
        own = getattr(self.stager, "own_outputs", "")
        paths = [(reference_scheme(item.url, own), item._path) for item in pending if item._path]
        if paths:
            sizes = await asyncio.get_running_loop().run_in_executor(None, _sizes, paths)
            self.metrics.observe_references(sizes)
