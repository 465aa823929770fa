"""The Downloader's FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.downloader.api import downloads, health, internal, reports
from services.downloader.config import Settings, get_settings
from services.downloader.errors import DownloaderError, error_response
from services.downloader.runtime import build_runtime
from services.drive.config import DriveSettings
from services.drive.config import get_settings as get_drive_settings
from services.shared.days import utcnow
from services.shared.heap import frozen_heap
from services.shared.limits import RequestLimitsMiddleware
from services.shared.metrics import NO_OPENTELEMETRY, MetricsMiddleware, metrics_endpoint


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DownloaderError)
    return error_response(exc)


def create_app(
    settings: Settings | None = None,
    *,
    drive: DriveSettings | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """A Downloader app; its lifespan migrates, loads the catalog and starts the workers.

    ``drive`` decides the form and host of download URLs (``FILESERVER_DRIVE_*``); ``clock``
    is replaceable so that tests can cross a day boundary.
    """
    settings = settings or get_settings()
    drive = drive or get_drive_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await build_runtime(settings, drive, clock=clock)
        await runtime.start()
        app.state.runtime = runtime
        try:
            with frozen_heap():
                yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="fileserver Downloader",
        summary="Budget-safe Drive download URLs and precomputed statistics",
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    # Added first, so innermost: the limits, the metrics and the 500 handler apply to it too.
    app.add_middleware(downloads.DownloadFastPath)
    app.add_middleware(RequestLimitsMiddleware, limits=settings)
    app.add_middleware(MetricsMiddleware, service="downloader")
    app.add_exception_handler(DownloaderError, _domain_error)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    for module in (downloads, reports, internal, health):
        app.include_router(module.router)
    return app
