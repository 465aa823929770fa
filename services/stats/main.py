"""Stats as a process: an arq worker plus a small HTTP app for probes and metrics.

The worker runs inside the app's lifespan so that one process (one container) has both, and the
CLI and the chart start Stats like the other services.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

from services.shared.heap import frozen_heap
from services.shared.limits import RequestLimitsMiddleware
from services.shared.metrics import NO_OPENTELEMETRY, MetricsMiddleware, metrics_endpoint
from services.shared.workers import supervise
from services.stats import metrics
from services.stats.config import Settings, get_settings
from services.stats.worker import make_worker


def create_app(settings: Settings | None = None) -> FastAPI:
    """The Stats app; its lifespan runs the queue worker when ``run_worker`` is set."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.redis = Redis.from_url(settings.redis_url)
        task = None
        if settings.run_worker:
            restarted = metrics.WORKER_RESTARTS.inc
            running = supervise(lambda: make_worker(settings), on_restart=restarted)
            task = asyncio.create_task(running, name="stats-worker")
        app.state.worker_task = task
        try:
            with frozen_heap():
                yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.redis.aclose()

    app = FastAPI(title="fileserver Stats", lifespan=lifespan, telemetry=NO_OPENTELEMETRY)
    app.add_middleware(RequestLimitsMiddleware, limits=settings)
    app.add_middleware(MetricsMiddleware, service="stats")
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> JSONResponse:
        """The process answers and its worker has not died."""
        task = request.app.state.worker_task
        if task is not None and task.done():
            return JSONResponse({"status": "worker stopped"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", tags=["health"])
    async def readyz(request: Request) -> JSONResponse:
        """The queue (Redis) answers."""
        try:
            await request.app.state.redis.ping()
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ok"})

    return app
