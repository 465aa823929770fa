"""Factories for Downloader and Stats tests: settings, events, an in-process app, a clock."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.downloader.config import Settings
from services.downloader.main import create_app
from services.downloader.runtime import Runtime
from services.drive.config import DriveSettings
from services.shared.events import (
    AccountState,
    Event,
    EventBatch,
    FileState,
    FileStatus,
    ReplicaInfo,
    ReplicaState,
)
from services.stats.config import Settings as StatsSettings
from services.stats.worker import make_worker

ADMIN_TOKEN = "test-admin-token-0123456789"
INTERNAL_TOKEN = "test-internal-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
INTERNAL = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
GB = 10**9
MB = 10**6


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'downloader.db'}"


def downloader_settings(
    database_url: str, redis_url: str, state_dir: Path, **overrides: Any
) -> Settings:
    """Settings for a test Downloader: real tokens, fast background timings."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "state_dir": state_dir,
        "admin_token": ADMIN_TOKEN,
        "internal_token": INTERNAL_TOKEN,
        "maintenance_interval_seconds": 0.2,
        "relay_after_seconds": 2.0,
        "relay_interval_seconds": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


def downloader_env(dsn: str, redis_url: str, state: Path, drive_root: str) -> dict[str, str]:
    """The environment of a Downloader process for tests: real tokens, fast timings."""
    return {
        "FILESERVER_DOWNLOADER_DATABASE_URL": dsn,
        "FILESERVER_DOWNLOADER_REDIS_URL": redis_url,
        "FILESERVER_DOWNLOADER_STATE_DIR": str(state),
        "FILESERVER_DOWNLOADER_ADMIN_TOKEN": ADMIN_TOKEN,
        "FILESERVER_DOWNLOADER_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "FILESERVER_DOWNLOADER_MIGRATE_ON_STARTUP": "false",
        "FILESERVER_DOWNLOADER_MAINTENANCE_INTERVAL_SECONDS": "0.5",
        "FILESERVER_DOWNLOADER_RELAY_AFTER_SECONDS": "3",
        "FILESERVER_DOWNLOADER_RELAY_INTERVAL_SECONDS": "1",
        "FILESERVER_DOWNLOADER_LEASE_TTL_SECONDS": "6",
        "FILESERVER_DOWNLOADER_LEASE_GRACE_SECONDS": "2",
        "FILESERVER_DOWNLOADER_LEASE_BLOCK_BYTES": str(8 * MB),
        "FILESERVER_DRIVE_ROOT_URL": drive_root,
    }


def drive_settings(root_url: str = "http://127.0.0.1:9/") -> DriveSettings:
    return DriveSettings(root_url=root_url)


class FakeClock:
    """A clock tests move by hand (rollover)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


_seq = itertools.count(1)


def account(
    account_id: str,
    budget: int,
    *,
    enabled: bool = True,
    deleted: bool = False,
    seq: int | None = None,
) -> Event:
    """An account event."""
    state = AccountState(
        id=account_id,
        email=f"{account_id}@example.test",
        daily_budget_bytes=budget,
        enabled=enabled,
        deleted=deleted,
    )
    return Event(seq=seq or next(_seq), state=state)


def file(
    file_id: str,
    size: int,
    accounts: Iterable[str],
    *,
    status: FileStatus = FileStatus.UPLOADED,
    deleted: bool = False,
    seq: int | None = None,
) -> Event:
    """A file event with a ready replica on each account (Drive id ``<file>-on-<account>``)."""
    replicas = tuple(
        ReplicaInfo(account_id=a, drive_file_id=f"{file_id}-on-{a}", state=ReplicaState.READY)
        for a in accounts
    )
    state = FileState(
        id=file_id,
        name=f"{file_id}.bin",
        size=size,
        content_type="application/octet-stream",
        status=status,
        replicas=replicas,
        deleted=deleted,
    )
    return Event(seq=seq or next(_seq), state=state)


def batch(*events: Event) -> dict[str, Any]:
    """An ``EventBatch`` body."""
    return EventBatch(events=events).model_dump(mode="json")


@dataclass
class LiveDownloader:
    """An in-process Downloader: its app, an HTTP client on it, its runtime."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def send(self, *events: Event) -> dict[str, Any]:
        response = await self.client.post("/internal/events", json=batch(*events), headers=INTERNAL)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


@asynccontextmanager
async def live_downloader(settings: Settings, **app_options: Any) -> AsyncIterator[LiveDownloader]:
    """Start a Downloader app (lifespan included) and an ASGI client on it."""
    app_options.setdefault("drive", drive_settings())
    app = create_app(settings, **app_options)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://downloader") as client:
            yield LiveDownloader(app, client)


def stats_settings(redis_url: str, **overrides: Any) -> StatsSettings:
    """Settings for a test Stats worker posting to an in-process Downloader."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "downloader_url": "http://downloader",
        "downloader_token": INTERNAL_TOKEN,
        "job_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return StatsSettings(**values)


async def drain_stats(dl: LiveDownloader, redis_url: str, *, workers: int = 1) -> None:
    """Run ``workers`` Stats workers in burst mode against ``dl`` until the queue is empty."""
    transport = httpx.ASGITransport(app=dl.app)
    settings = stats_settings(redis_url)
    running = [make_worker(settings, transport=transport, burst=True) for _ in range(workers)]
    try:
        await asyncio.gather(*(w.main() for w in running))
    finally:
        for w in running:
            await w.close()
