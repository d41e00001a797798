"""/metrics, /health/live and /health/ready.

They follow the edge's rules like every route (``errors.EdgeHandler``): GET and HEAD
only, a request body refused from its headers, ``nosniff`` on every answer; and
``Cache-Control: no-store``, since a cached health answer is a wrong one.
"""
from __future__ import annotations


from typing import Any

from ..monitoring.http_metrics import GatewayMetrics
from ..monitoring.readiness import ReadinessCheck
from .errors import JSONHandler

NO_STORE = ("Cache-Control", "no-store")


class MetricsHandler(JSONHandler):
    """GET /metrics: the Prometheus text exposition of the gateway's registry."""

    ACCESS = "public"  # unchanged by identity: probes and scrapers carry none

    route = "metrics"

    def initialize(self, metrics: GatewayMetrics) -> None:
        self.metrics = metrics

    def get(self) -> None:
        body, content_type = self.metrics.render()
        self.set_header("Content-Type", content_type)
        self.set_header(*NO_STORE)
        self.finish(body)

    def head(self) -> None:
        self.get()


class LiveHandler(JSONHandler):
    """GET /health/live: answered by the event loop itself, so an answer means the loop turns."""

    ACCESS = "public"  # unchanged by identity: probes and scrapers carry none

    route = "health_live"

    def get(self) -> None:
        self.set_header(*NO_STORE)
        self.write_json({"status": "live"})

    def head(self) -> None:
        self.get()


class ReadyHandler(JSONHandler):
    """GET /health/ready: 200 when the job store and the spool take writes and the scheduler answers, else 503."""

    ACCESS = "public"  # unchanged by identity: probes and scrapers carry none

    route = "health_ready"

    def initialize(self, readiness: ReadinessCheck) -> None:
        self.readiness = readiness

    async def get(self) -> None:
        readiness = await self.readiness.check()
        self.set_header(*NO_STORE)
        self.write_json(readiness.as_json(), 200 if readiness.ready else 503)

    async def head(self) -> None:
        await self.get()


def monitoring_routes(metrics: GatewayMetrics | None, readiness: ReadinessCheck | None) -> list[tuple[Any, ...]]:
    """The routes to add to an application (metrics only when given)."""
    routes: list[tuple[Any, ...]] = [(r"/health/live", LiveHandler)]
    if readiness is not None:
        routes.append((r"/health/ready", ReadyHandler, {"readiness": readiness}))
    if metrics is not None:
        routes.append((r"/metrics", MetricsHandler, {"metrics": metrics}))
    return routes



