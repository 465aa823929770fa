"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from services.shared.metrics import metrics_endpoint
from services.uploader.deps import JobsDep
from services.uploader.metrics import QUEUE_DEPTH

router = APIRouter(tags=["health"])

READY_TIMEOUT = 3.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, jobs: JobsDep) -> JSONResponse:
    """MongoDB and Redis both answer (503 naming the one that does not)."""
    probes = {
        "mongo": request.app.state.mongo.admin.command("ping"),
        "redis": jobs.redis.ping(),
    }
    checks: dict[str, str] = {}
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe, READY_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means "not ready"; say which kind
            checks[name] = f"unreachable: {type(exc).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, jobs: JobsDep) -> Response:
    """Prometheus metrics, with the queue depth read at scrape time."""
    with contextlib.suppress(RedisError, OSError):  # Redis down: /readyz says so
        QUEUE_DEPTH.set(await jobs.depth())
    return await metrics_endpoint(request)
