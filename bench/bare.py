"""The baseline: a bare FastAPI endpoint answering a JSON body of the download answer's size."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from services.shared.heap import frozen_heap
from services.shared.metrics import NO_OPENTELEMETRY

_BODY: dict[str, object] = {
    "id": "8d2a6b1e-7f0c-4c55-9d0e-0d3c7f1b2a9e",
    "url": "http://127.0.0.1:9/drive/v3/files/file-on-account?alt=media&acknowledgeAbuse=true",
    "file_id": "file",
    "account_id": "account",
    "offset": 0,
    "length": 1000000,
    "charged_bytes": 1000000,
    "range": None,
    "day": "2030-01-01",
    "expires_at": "2030-01-02T00:00:00Z",
}


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    with frozen_heap():
        yield


def create_app() -> FastAPI:
    """One route, no middleware, no database: the fastest answer FastAPI gives (set up as every
    service is: OpenTelemetry off, the start-up heap frozen)."""
    app = FastAPI(telemetry=NO_OPENTELEMETRY, lifespan=_lifespan)

    @app.get("/files/{file_id}/download")
    async def download(file_id: str) -> dict[str, object]:
        return _BODY

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_raw_app() -> ASGIApp:
    """The same answer from a plain ASGI callable, no framework at all: a reference floor for
    the Downloader's download requests, which are answered below FastAPI's router."""
    body = json.dumps(_BODY, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app
