"""Crash recovery with real processes: the worker is SIGKILLed mid-replication and restarted.

The Downloader and the Uploader's worker run as processes (``python -m ...``) talking over
loopback to the Drive emulator process; the Uploader API runs in process. A job interrupted by
SIGKILL runs again once arq's in-progress lock expires (``job_timeout_seconds`` + 10 s), so
these tests use a short job timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from services.drive.urls import download_url
from services.uploader.config import Settings
from tests.utils.downloader import ADMIN_TOKEN as DOWNLOADER_ADMIN
from tests.utils.downloader import INTERNAL_TOKEN
from tests.utils.drive import Emulator, EmulatorAccount, EmulatorAdmin
from tests.utils.services import ServiceProcess
from tests.utils.uploader import (
    ADMIN,
    CREDENTIALS_KEY,
    LiveUploader,
    MiB,
    assert_catalog_matches,
    live_uploader,
    pattern,
    uploader_settings,
)
from tests.utils.waiting import eventually

pytestmark = pytest.mark.integration

JOB_TIMEOUT = 15


@pytest.fixture
def crash_settings(mongo_url: str, mongo_db: AsyncDatabase[Any], redis_url: str) -> Settings:
    return uploader_settings(mongo_url, mongo_db.name, redis_url, job_timeout_seconds=JOB_TIMEOUT)


@pytest.fixture
def downloader_process(
    tmp_path: Path, redis_url: str, drive_emulator: Emulator
) -> Iterator[ServiceProcess]:
    process = ServiceProcess(
        "services.downloader",
        {
            "FILESERVER_DOWNLOADER_DATABASE_URL": f"sqlite:///{tmp_path / 'downloader.db'}",
            "FILESERVER_DOWNLOADER_STATE_DIR": str(tmp_path),
            "FILESERVER_DOWNLOADER_REDIS_URL": redis_url,
            "FILESERVER_DOWNLOADER_ADMIN_TOKEN": DOWNLOADER_ADMIN,
            "FILESERVER_DOWNLOADER_INTERNAL_TOKEN": INTERNAL_TOKEN,
            "FILESERVER_DRIVE_ROOT_URL": drive_emulator.url,
        },
        tmp_path,
        prefix="FILESERVER_DOWNLOADER_",
    )
    process.start()
    yield process
    process.stop()


def worker_process(
    settings: Settings, downloader: ServiceProcess, emulator: Emulator, log_dir: Path
) -> ServiceProcess:
    """The Uploader's worker as a process; it answers /readyz on its metrics port."""
    env = {
        "FILESERVER_UPLOADER_MONGO_URL": settings.mongo_url,
        "FILESERVER_UPLOADER_MONGO_DB": settings.mongo_db,
        "FILESERVER_UPLOADER_REDIS_URL": settings.redis_url,
        "FILESERVER_UPLOADER_ADMIN_TOKEN": settings.admin_token.get_secret_value(),
        "FILESERVER_UPLOADER_CREDENTIALS_KEY": CREDENTIALS_KEY,
        "FILESERVER_UPLOADER_DOWNLOADER_URL": downloader.url,
        "FILESERVER_UPLOADER_DOWNLOADER_INTERNAL_TOKEN": INTERNAL_TOKEN,
        "FILESERVER_UPLOADER_CHUNK_BYTES": str(settings.chunk_bytes),
        "FILESERVER_UPLOADER_JOB_TIMEOUT_SECONDS": str(JOB_TIMEOUT),
        "FILESERVER_UPLOADER_RETRY_BASE_SECONDS": "0.2",
        "FILESERVER_UPLOADER_RETRY_MAX_SECONDS": "1",
        "FILESERVER_UPLOADER_SWEEP_INTERVAL_SECONDS": "2",
        "FILESERVER_DRIVE_ROOT_URL": emulator.url,
        "FILESERVER_DRIVE_CHUNK_SIZE": str(MiB),
        "FILESERVER_DRIVE_RETRY_MAX_ATTEMPTS": "2",
        "FILESERVER_DRIVE_RETRY_INITIAL_SECONDS": "0.05",
        "FILESERVER_DRIVE_RETRY_MAX_SECONDS": "0.2",
    }
    process = ServiceProcess(
        "services.uploader.worker", env, log_dir, prefix="FILESERVER_UPLOADER_"
    )
    process.env["FILESERVER_UPLOADER_WORKER_METRICS_PORT"] = str(process.port)
    return process


@pytest.fixture
async def api(crash_settings: Settings) -> AsyncIterator[LiveUploader]:
    async with live_uploader(crash_settings) as live:
        yield live


async def register(api: LiveUploader, admin: EmulatorAdmin) -> EmulatorAccount:
    account = await admin.create_account()
    response = await api.client.post(
        "/accounts",
        json={"email": account.email, "credentials": account.credentials},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return account


async def drive_names(account: EmulatorAccount, drive: DriveSettings) -> list[str]:
    async with DriveClient(account.parsed(), drive, account_id=account.id) as client:
        return sorted(f.name for f in await client.list())


@pytest.fixture
async def emulator_admin(drive_emulator: Emulator) -> AsyncIterator[EmulatorAdmin]:
    admin = drive_emulator.admin()
    yield admin
    await admin.clear_faults()
    await admin.aclose()


async def test_worker_killed_after_drive_upload_adopts_it_without_duplicate(
    api: LiveUploader,
    crash_settings: Settings,
    downloader_process: ServiceProcess,
    drive_emulator: Emulator,
    emulator_admin: EmulatorAdmin,
    drive: DriveSettings,
    tmp_path: Path,
) -> None:
    accounts = [await register(api, emulator_admin) for _ in range(2)]
    # Sharing fails: the first replica's bytes reach Drive, but the job cannot finish, so
    # the worker dies with a Drive file that no record mentions yet.
    await emulator_admin.set_faults(
        {"kind": "backendError", "method": "POST", "path_prefix": "/drive/v3/files/"}
    )
    data = pattern(24 * MiB, seed=11)
    file_id = (await api.upload(data, name="crash.bin"))["id"]

    worker = worker_process(crash_settings, downloader_process, drive_emulator, tmp_path)
    worker.start()
    try:

        async def uploaded_to_drive() -> None:
            names = [await drive_names(a, drive) for a in accounts]
            assert ["crash.bin"] in names

        await eventually(uploaded_to_drive, within=120)
        worker.kill()
        worker.stop()  # closes its log file (kill alone leaves it open)
        file = await api.file(file_id)
        assert file["status"] == "replicating"
        assert all(r["state"] == "pending" for r in file["replicas"])

        await emulator_admin.clear_faults()
        worker.start()

        async def converged() -> None:
            assert (await api.file(file_id))["status"] == "uploaded"

        await eventually(converged, within=180)
        async with httpx.AsyncClient(base_url=downloader_process.url, timeout=30) as downloader:

            async def catalog_matches() -> None:
                await assert_catalog_matches(downloader)

            await eventually(catalog_matches, within=60)
    finally:
        worker.stop()

    assert "adopted Drive file" in worker.log_path.read_text()  # not uploaded twice
    file = await api.file(file_id)
    assert len(file["replicas"]) == 2
    assert {r["state"] for r in file["replicas"]} == {"ready"}
    for account in accounts:
        assert await drive_names(account, drive) == ["crash.bin"]  # no duplicate
    expected = hashlib.sha256(data).hexdigest()
    async with httpx.AsyncClient(timeout=60) as http:
        for replica in file["replicas"]:
            got = await http.get(download_url(drive, replica["drive_file_id"], len(data)))
            assert hashlib.sha256(got.content).hexdigest() == expected


async def test_worker_killed_mid_upload_resumes_to_uploaded(
    api: LiveUploader,
    crash_settings: Settings,
    downloader_process: ServiceProcess,
    drive_emulator: Emulator,
    emulator_admin: EmulatorAdmin,
    drive: DriveSettings,
    tmp_path: Path,
) -> None:
    accounts = [await register(api, emulator_admin) for _ in range(2)]
    await emulator_admin.set_faults(latency_ms=100)  # widen the upload's window
    data = pattern(16 * MiB, seed=12)
    file_id = (await api.upload(data, name="mid.bin"))["id"]

    worker = worker_process(crash_settings, downloader_process, drive_emulator, tmp_path)
    worker.start()
    try:

        async def replicating() -> None:
            file = await api.file(file_id)
            assert any(r["attempts"] == 1 for r in file["replicas"])

        await eventually(replicating, within=60)
        worker.kill()
        worker.stop()
        assert (await api.file(file_id))["status"] == "replicating"
        await emulator_admin.clear_faults()
        worker.start()

        async def converged() -> None:
            assert (await api.file(file_id))["status"] == "uploaded"

        await eventually(converged, within=180)
    finally:
        worker.stop()

    file = await api.file(file_id)
    assert {r["state"] for r in file["replicas"]} == {"ready"}
    assert max(r["attempts"] for r in file["replicas"]) >= 2  # the killed attempt counted
    for account in accounts:
        assert await drive_names(account, drive) == ["mid.bin"]
