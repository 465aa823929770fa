"""Apps to fuzz, each on real backing servers, built by the test packages' own fixtures.

The Uploader is ``tests/uploader``'s in-process app (FerretDB, Redis, the Drive emulator
process); the Downloader is built from ``tests/downloader``'s settings on SQLite or a fresh
PostgreSQL database; Stats on the test Redis; the Drive emulator in process on a temporary
data directory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.downloader.config import Settings as DownloaderSettings
from services.drive_emulator.config import EmulatorSettings
from services.drive_emulator.main import create_app as create_emulator
from services.stats.main import create_app as create_stats
from tests.downloader.conftest import any_db_settings, pg_settings, sqlite_settings
from tests.uploader.conftest import drive, drive_emulator, emulator_admin, settings, uploader
from tests.utils.downloader import LiveDownloader, live_downloader, stats_settings
from tests.utils.drive import ADMIN_TOKEN as EMULATOR_ADMIN_TOKEN

__all__ = [
    "any_db_settings",
    "drive",
    "drive_emulator",
    "emulator_admin",
    "pg_settings",
    "settings",
    "sqlite_settings",
    "uploader",
]


@pytest.fixture
async def any_downloader(any_db_settings: DownloaderSettings) -> AsyncIterator[LiveDownloader]:
    """The Downloader in process on SQLite, then on PostgreSQL (the fixture's two params)."""
    async with live_downloader(any_db_settings) as live:
        yield live


@dataclass
class LiveApp:
    """An app whose lifespan runs, and an ASGI client on it."""

    app: FastAPI
    client: httpx.AsyncClient


@asynccontextmanager
async def live_app(app: FastAPI, base_url: str) -> AsyncIterator[LiveApp]:
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, timeout=60
        ) as client,
    ):
        yield LiveApp(app, client)


@pytest.fixture
async def stats_app(redis_url: str) -> AsyncIterator[LiveApp]:
    async with live_app(create_stats(stats_settings(redis_url)), "http://stats") as live:
        yield live


@pytest.fixture
async def emulator_app(tmp_path: Path) -> AsyncIterator[LiveApp]:
    """The Drive emulator in process, its store under ``tmp_path``."""
    settings = EmulatorSettings(data_dir=tmp_path / "emulator", admin_token=EMULATOR_ADMIN_TOKEN)
    async with live_app(create_emulator(settings), "http://emulator") as live:
        yield live
