"""Prometheus metrics common to every FastAPI service: request counts and latencies.

Each service mounts :func:`metrics_app` on ``/metrics`` and adds :class:`MetricsMiddleware`;
labels use the route template (``/files/{file_id}``), never the raw path, so that ids do not
explode the series count.
"""

from __future__ import annotations

import time

from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
"""``FastAPI(telemetry=...)`` for every service: their metrics are Prometheus' (below) and
nothing configures an OpenTelemetry provider, yet with its defaults FastAPI asks the
OpenTelemetry API on every request whether one is (about 12 µs of CPU per request, measured)."""

REQUESTS = Counter(
    "fileserver_http_requests_total",
    "HTTP requests served",
    ["service", "method", "route", "status"],
)
LATENCY = Histogram(
    "fileserver_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task switch, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service
        # Label children bound once per route, method and status: ``labels()`` on every
        # request cost more than the rest of this middleware (a lock and a tuple per call).
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._latency: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            counter = self._requests.get((method, template, status_code))
            if counter is None:
                counter = REQUESTS.labels(self.service, method, template, str(status_code))
                self._requests[method, template, status_code] = counter
            counter.inc()
            histogram = self._latency.get((method, template))
            if histogram is None:
                histogram = LATENCY.labels(self.service, method, template)
                self._latency[method, template] = histogram
            histogram.observe(elapsed)


async def metrics_endpoint(request: Request) -> Response:
    """The process's metrics in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
