"""Factories for Uploader tests: settings, an in-process app and worker, deterministic bytes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.fernet import Fernet
from fastapi import FastAPI

from services.drive.config import DriveSettings
from services.uploader.config import Settings
from services.uploader.main import create_app
from services.uploader.worker import Workers
from tests.utils.downloader import INTERNAL_TOKEN

ADMIN_TOKEN = "test-uploader-admin-token-0123"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CREDENTIALS_KEY = Fernet.generate_key().decode()
MiB = 1024 * 1024


def uploader_settings(mongo_url: str, mongo_db: str, redis_url: str, **overrides: Any) -> Settings:
    """Settings for a test Uploader: real secrets, fast retries and sweeps."""
    values: dict[str, Any] = {
        "mongo_url": mongo_url,
        "mongo_db": mongo_db,
        "redis_url": redis_url,
        "admin_token": ADMIN_TOKEN,
        "credentials_key": CREDENTIALS_KEY,
        "downloader_internal_token": INTERNAL_TOKEN,
        "chunk_bytes": 256 * 1024,
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.5,
        "sweep_interval_seconds": 1,
        "job_timeout_seconds": 600,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class LiveUploader:
    """An in-process Uploader: its app and an HTTP client on it."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    async def upload(
        self, data: bytes, name: str = "file.bin", content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/files",
            params={"name": name},
            content=data,
            headers={**ADMIN, "Content-Type": content_type},
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        return body

    async def file(self, file_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/files/{file_id}", headers=ADMIN)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@asynccontextmanager
async def live_uploader(settings: Settings) -> AsyncIterator[LiveUploader]:
    """Start an Uploader app (lifespan included) and an ASGI client on it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://uploader", timeout=120
        ) as client:
            yield LiveUploader(app, client, settings)


async def run_worker(
    settings: Settings,
    *,
    downloader: httpx.AsyncClient | None = None,
    drive: DriveSettings | None = None,
    mongo: Any = None,
    locks: Any = None,
    **options: Any,
) -> None:
    """Run the Uploader's jobs in this process until both queues are empty (arq burst mode)."""
    ctx: dict[str, Any] = {}
    if downloader is not None:
        ctx["http"] = downloader
    if drive is not None:
        ctx["drive_settings"] = drive
    if mongo is not None:
        ctx["mongo"] = mongo
    if locks is not None:
        ctx["locks"] = locks
    options.setdefault("cron_jobs", [])
    workers = Workers(settings, burst=True, poll_delay=0.05, ctx=ctx, **options)
    try:
        await workers.async_run()
    finally:
        await workers.close()


def pattern(size: int, seed: int = 0) -> bytes:
    """``size`` deterministic, incompressible-looking bytes (small files only)."""
    return b"".join(blocks(size, seed))


def blocks(size: int, seed: int = 0, block: int = MiB) -> Iterator[bytes]:
    """The same bytes as :func:`pattern`, generated a block at a time (big files)."""
    counter = 0
    sent = 0
    while sent < size:
        piece = hashlib.sha256(f"{seed}:{counter}".encode()).digest() * (block // 32)
        piece = piece[: size - sent]
        counter += 1
        sent += len(piece)
        yield piece


def sha256_of(size: int, seed: int = 0) -> str:
    digest = hashlib.sha256()
    for piece in blocks(size, seed):
        digest.update(piece)
    return digest.hexdigest()


async def downloader_catalog(client: httpx.AsyncClient, kind: str) -> dict[str, dict[str, Any]]:
    """The Downloader's catalog of one kind, id → {"seq", "state"}."""
    entries: dict[str, dict[str, Any]] = {}
    after = ""
    while True:
        response = await client.get(
            "/internal/catalog",
            params={"kind": kind, "after": after, "limit": 1000},
            headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
        )
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            entries[item["state"]["id"]] = item
        if page["next_after"] is None:
            return entries
        after = page["next_after"]


async def assert_catalog_matches(client: httpx.AsyncClient) -> None:
    """The Downloader holds exactly the Uploader's current state of every aggregate."""
    from services.uploader.models import Account, StoredFile
    from services.uploader.relay import account_event, file_event

    for kind, model, to_event in (
        ("account", Account, account_event),
        ("file", StoredFile, file_event),
    ):
        theirs = await downloader_catalog(client, kind)
        ours = {doc.id: doc for doc in await model.find({}).to_list()}  # type: ignore[attr-defined]
        for doc_id, doc in ours.items():
            assert not doc.dirty, f"{kind} {doc_id} still has undelivered changes"
            entry = theirs.get(doc_id)
            assert entry is not None, f"the Downloader does not know {kind} {doc_id}"
            expected = to_event(doc).state.model_dump(mode="json")  # type: ignore[operator]
            assert entry["seq"] == doc.seq, (kind, doc_id)
            assert entry["state"] == expected, (kind, doc_id)
        for doc_id, entry in theirs.items():
            if doc_id not in ours:  # purged here after its tombstone was delivered
                assert entry["state"]["deleted"] is True, (kind, doc_id)
