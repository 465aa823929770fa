"""The emulator's ASGI application: ``create_app(settings)``, and ``run`` to serve it.

Answers use Drive's error bodies everywhere a Drive client may look, including for invalid
parameters; a ``drop`` fault abandons its answer so the server closes the connection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from services.drive_emulator.api import admin, files, oauth, uploads, web
from services.drive_emulator.config import EmulatorSettings, get_settings
from services.drive_emulator.errors import DriveApiError, bad_request
from services.drive_emulator.faults import DropConnection, DroppedResponse
from services.drive_emulator.runtime import Runtime
from services.shared.heap import frozen_heap
from services.shared.metrics import NO_OPENTELEMETRY, MetricsMiddleware, metrics_endpoint


async def _drive_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DriveApiError)
    return exc.response()


async def _dropped(request: Request, exc: Exception) -> Response:
    return DroppedResponse()


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Name the parameter and the rule, never the value (it may be a token).
    first = exc.errors()[0] if exc.errors() else {}
    location = ".".join(str(part) for part in first.get("loc", ())[1:]) or None
    return bad_request(
        f"Invalid value: {first.get('msg', 'invalid')}", location=location
    ).response()


async def _healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: EmulatorSettings | None = None) -> FastAPI:
    """The emulator app; its state opens at startup under ``settings.data_dir``."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.runtime = await Runtime.start(settings)
        try:
            with frozen_heap():
                yield
        finally:
            await app.state.runtime.close()

    app = FastAPI(
        title="Drive v3 emulator",
        description="The subset of the Google Drive v3 API fileserver uses, with Drive's limits.",
        lifespan=lifespan,
        telemetry=NO_OPENTELEMETRY,
    )
    app.add_middleware(MetricsMiddleware, service="drive-emulator")
    for module in (files, uploads, web, oauth, admin):
        app.include_router(module.router)
    app.add_exception_handler(DriveApiError, _drive_error)
    app.add_exception_handler(DropConnection, _dropped)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_route("/healthz", _healthz, include_in_schema=False)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    return app


def run(settings: EmulatorSettings, *, log_level: str = "info") -> None:
    """Serve the emulator until interrupted."""
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        # Idle connections stay as long as Google's front ends keep them by default, not
        # uvicorn's 5 s; a short one tests clients against a server that closes idle ones.
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=5,
    )
