"""Uploader test fixtures: a fresh Mongo database and Redis, the Drive emulator, a Downloader.

The emulator runs as a process (one per session, fresh accounts per test); the Downloader runs
in process on a temporary SQLite database, and the in-process worker relays to it over ASGI.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.drive.config import DriveSettings
from services.uploader.config import Settings
from services.uploader.main import create_app
from tests.utils.downloader import LiveDownloader, downloader_settings, live_downloader, sqlite_url
from tests.utils.drive import Emulator, EmulatorAccount, EmulatorAdmin
from tests.utils.uploader import ADMIN, LiveUploader, run_worker, uploader_settings

RegisterAccounts = Callable[..., Awaitable[list[tuple[EmulatorAccount, dict[str, Any]]]]]
RunWorker = Callable[..., Awaitable[None]]


@pytest.fixture
def settings(mongo_url: str, mongo_db: AsyncDatabase[Any], redis_url: str) -> Settings:
    return uploader_settings(mongo_url, mongo_db.name, redis_url)


@pytest.fixture
async def uploader(settings: Settings, drive: DriveSettings) -> AsyncIterator[LiveUploader]:
    """The Uploader in process, its Drive clients (credential checks) on the emulator."""
    app = create_app(settings, drive)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://uploader", timeout=120
        ) as client,
    ):
        yield LiveUploader(app, client, settings)


@pytest.fixture(scope="session")
def drive_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path_factory.mktemp("uploader-drive-emulator"))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
async def emulator_admin(drive_emulator: Emulator) -> AsyncIterator[EmulatorAdmin]:
    admin = drive_emulator.admin()
    yield admin
    await admin.clear_faults()
    await admin.aclose()


@pytest.fixture
def drive(drive_emulator: Emulator) -> DriveSettings:
    """Client settings on the emulator, with short backoffs."""
    return DriveSettings(
        root_url=drive_emulator.url,
        chunk_size=1024 * 1024,
        retry_max_attempts=3,
        retry_initial_seconds=0.01,
        retry_max_seconds=0.2,
        retry_jitter_seconds=0.01,
        http_timeout_seconds=60,
    )


@pytest.fixture
async def downloader(tmp_path: Path, redis_url: str) -> AsyncIterator[LiveDownloader]:
    settings = downloader_settings(sqlite_url(tmp_path), redis_url, tmp_path)
    async with live_downloader(settings) as live:
        yield live


@pytest.fixture
def register_accounts(uploader: LiveUploader, emulator_admin: EmulatorAdmin) -> RegisterAccounts:
    """Factory: create accounts on the emulator and register them with the Uploader."""

    async def register(count: int, **limits: int) -> list[tuple[EmulatorAccount, dict[str, Any]]]:
        made = []
        for _ in range(count):
            account = await emulator_admin.create_account(**limits)
            response = await uploader.client.post(
                "/accounts",
                json={"email": account.email, "credentials": account.credentials},
                headers=ADMIN,
            )
            assert response.status_code == 201, response.text
            made.append((account, response.json()))
        return made

    return register


@pytest.fixture
def worker(
    settings: Settings, uploader: LiveUploader, downloader: LiveDownloader, drive: DriveSettings
) -> RunWorker:
    """Factory: run the Uploader's jobs in process until both queues are empty (``changes``:
    settings of this run, e.g. ``worker_background_jobs=1``)."""

    async def run(changes: dict[str, Any] | None = None, **options: Any) -> None:
        options.setdefault("downloader", downloader.client)
        await run_worker(
            settings.model_copy(update=changes or {}),
            drive=drive,
            mongo=uploader.app.state.mongo,
            locks=uploader.app.state.locks,
            **options,
        )

    return run
