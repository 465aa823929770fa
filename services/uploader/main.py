"""The Uploader's app factory: ``create_app(settings)`` wires storage, queue and routers.

The lifespan opens the Mongo client (binding the Beanie documents), the GridFS staging bucket,
the arq pool, the credentials vault and the per-account Drive clients (credential checks) once,
and keeps them on ``app.state`` for the dependencies in :mod:`services.uploader.deps`. Domain
errors and validation errors become JSON bodies here; validation errors never echo the input
back, since it may hold credentials.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq.connections import ArqRedis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pymongo import AsyncMongoClient
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from services.drive.config import DriveSettings
from services.drive.config import get_settings as get_drive_settings
from services.shared.heap import frozen_heap
from services.shared.limits import RequestLimitsMiddleware
from services.shared.metrics import NO_OPENTELEMETRY, MetricsMiddleware
from services.uploader import repository
from services.uploader.api import accounts, files, health, uploads
from services.uploader.config import Settings, get_settings
from services.uploader.drives import DriveClients
from services.uploader.errors import UploaderError
from services.uploader.jobs import Jobs
from services.uploader.locking import DocumentLocks
from services.uploader.staging import Staging
from services.uploader.vault import Vault

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, drive: DriveSettings | None = None) -> FastAPI:
    """The Uploader API; its and the Drive client's settings from the environment unless given."""
    settings = settings or get_settings()
    drive = drive or get_drive_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            settings.mongo_url, tz_aware=True
        )
        # Not arq's create_pool: it insists on reaching Redis at start, and the API should
        # come up (and say "not ready" on /readyz) while Redis is away.
        redis = ArqRedis(
            connection_pool=ConnectionPool.from_url(settings.redis_url),
            default_queue_name=settings.queue_name,
        )
        database = mongo[settings.mongo_db]
        app.state.locks = DocumentLocks(redis)
        await repository.init(database, app.state.locks)
        staging = Staging(database, chunk_bytes=settings.chunk_bytes)
        await staging.ensure_indexes()
        app.state.settings = settings
        app.state.mongo = mongo
        app.state.staging = staging
        app.state.jobs = Jobs(redis, queue_name=settings.queue_name)
        app.state.vault = Vault(settings.credentials_key.get_secret_value())
        app.state.drives = DriveClients(app.state.vault, drive)
        try:
            with frozen_heap():
                yield
        finally:
            await app.state.drives.close()
            await redis.aclose(close_connection_pool=True)
            await mongo.close()

    app = FastAPI(
        title="fileserver Uploader",
        version="1.0",
        summary="Drive accounts and files; streamed staging; replication to the Drive pool.",
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    app.add_middleware(RequestLimitsMiddleware, limits=settings)
    app.add_middleware(MetricsMiddleware, service="uploader")
    app.add_exception_handler(UploaderError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RedisError, _redis_away)
    for module in (health, accounts, files, uploads):
        app.include_router(module.router, responses=VALIDATION_RESPONSE)
    return app


class ValidationIssue(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None


class ValidationProblem(BaseModel):
    """The body of every 422 (see ``_validation_error``): never the input itself."""

    detail: str
    errors: list[ValidationIssue] = []


# Documents the 422 body this app sends instead of FastAPI's default one (whose ``detail`` is a
# list): without it the OpenAPI schema contradicted every validation error (found by fuzzing).
VALIDATION_RESPONSE: dict[int | str, dict[str, Any]] = {
    422: {"model": ValidationProblem, "description": "Validation Error"}
}


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UploaderError)
    return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)


async def _redis_away(request: Request, exc: Exception) -> JSONResponse:
    # Writes hold a per-document lock in Redis (docs/uploader.md): without Redis they cannot
    # start. A 503 says to come back, where an unhandled error would say the server is broken.
    log.warning("%s %s refused: Redis is unavailable (%s)", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": "the Uploader's Redis (document locks, job queue) is unavailable; retry soon"},
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return JSONResponse(
        {"detail": f"{where}: {first['msg']}" if where else first["msg"], "errors": errors},
        status_code=422,
    )
