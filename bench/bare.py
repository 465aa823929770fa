"""The baseline: a bare FastAPI endpoint answering a JSON body of the download answer's size."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.shared.heap import frozen_heap
from services.shared.metrics import NO_OPENTELEMETRY


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    with frozen_heap():
        yield


def create_app() -> FastAPI:
    """One route, no middleware, no database: the fastest answer FastAPI gives (set up as every
    service is: OpenTelemetry off, the start-up heap frozen)."""
    app = FastAPI(telemetry=NO_OPENTELEMETRY, lifespan=_lifespan)
    body = {
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

    @app.get("/files/{file_id}/download")
    async def download(file_id: str) -> dict[str, object]:
        return body

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app
