"""Replication against the Drive emulator: placement, copies, retries, quotas, deletion."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from services.drive.urls import download_url
from tests.uploader.conftest import RegisterAccounts, RunWorker
from tests.utils.downloader import LiveDownloader
from tests.utils.drive import EmulatorAccount, EmulatorAdmin
from tests.utils.uploader import (
    ADMIN,
    LiveUploader,
    MiB,
    assert_catalog_matches,
    blocks,
    downloader_catalog,
    pattern,
    sha256_of,
)

pytestmark = pytest.mark.integration


async def drive_files(account: EmulatorAccount, drive: DriveSettings) -> list[Any]:
    async with DriveClient(account.parsed(), drive, account_id=account.id) as client:
        return await client.list()


async def download_sha256(drive: DriveSettings, drive_file_id: str, size: int) -> str:
    digest = hashlib.sha256()
    async with (
        httpx.AsyncClient(timeout=120) as http,
        http.stream("GET", download_url(drive, drive_file_id, size)) as response,
    ):
        assert response.status_code == 200
        async for piece in response.aiter_bytes():
            digest.update(piece)
    return digest.hexdigest()


async def test_small_file_reaches_every_account(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    accounts = await register_accounts(3)
    data = pattern(3 * MiB + 5)
    body = await uploader.upload(data, name="small.bin")
    await worker()
    file = await uploader.file(body["id"])
    assert file["status"] == "uploaded", file["replicas"]
    assert sorted(r["account_id"] for r in file["replicas"]) == sorted(a["id"] for _, a in accounts)
    assert all(r["state"] == "ready" for r in file["replicas"])
    assert file["staged"] is False
    assert await mongo_db["fs.files"].count_documents({}) == 0
    assert await mongo_db["fs.chunks"].count_documents({}) == 0
    for emulator_account, _ in accounts:
        listed = await drive_files(emulator_account, drive)
        assert [f.name for f in listed] == ["small.bin"]
    await assert_catalog_matches(downloader.client)


def replications(method: str) -> float:
    value = REGISTRY.get_sample_value(
        "fileserver_uploader_replication_duration_seconds_count", {"method": method}
    )
    return value or 0.0


async def test_200mb_upload_replicates_everywhere_byte_for_byte(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
    mongo_db: AsyncDatabase[Any],
) -> None:
    size = 200 * MiB
    accounts = await register_accounts(3)
    uploads_before, copies_before = replications("upload"), replications("copy")

    async def body() -> AsyncIterator[bytes]:
        for piece in blocks(size, seed=7):
            yield piece

    response = await uploader.client.post(
        "/files", params={"name": "big.bin"}, content=body(), headers=ADMIN
    )
    assert response.status_code == 202, response.text
    file = response.json()
    assert file["status"] == "replicating"
    assert file["replicas"] == []  # answered before any replication work
    expected = sha256_of(size, seed=7)
    assert file["sha256"] == expected

    await worker()

    file = await uploader.file(file["id"])
    assert file["status"] == "uploaded", str(file["replicas"])
    assert file["staged"] is False
    assert {r["account_id"] for r in file["replicas"]} == {a["id"] for _, a in accounts}
    assert {r["state"] for r in file["replicas"]} == {"ready"}
    assert await mongo_db["fs.files"].count_documents({}) == 0
    assert await mongo_db["fs.chunks"].count_documents({}) == 0
    # The bytes crossed the link once: one upload, then server-side copies.
    assert replications("upload") - uploads_before == 1
    assert replications("copy") - copies_before == 2
    for replica in file["replicas"]:
        assert await download_sha256(drive, replica["drive_file_id"], size) == expected
    await assert_catalog_matches(downloader.client)


async def test_drive_errors_at_ten_percent_converge_without_duplicates(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
    emulator_admin: EmulatorAdmin,
) -> None:
    accounts = await register_accounts(3)
    await emulator_admin.set_faults(
        {"kind": "userRateLimitExceeded", "rate": 0.04},
        {"kind": "backendError", "rate": 0.03},
        {"kind": "drop", "rate": 0.03, "after_bytes": 300_000},
        seed=4,
    )
    names = [f"f{i}.bin" for i in range(6)]
    ids = [
        (await uploader.upload(pattern((2 + i % 3) * MiB, seed=i), name=n))["id"]
        for i, n in enumerate(names)
    ]
    await worker()
    faults = await emulator_admin.faults()
    assert sum(rule["fired"] for rule in faults["rules"]) > 0  # errors really happened
    await emulator_admin.clear_faults()

    for file_id in ids:
        file = await uploader.file(file_id)
        assert file["status"] == "uploaded", str(file["replicas"])
        assert len(file["replicas"]) == 3
    for emulator_account, _ in accounts:
        listed = sorted(f.name for f in await drive_files(emulator_account, drive))
        assert listed == names  # every file once: no duplicate from a retried attempt
    await assert_catalog_matches(downloader.client)


async def test_storage_quota_skips_the_account_and_reports_it(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
) -> None:
    (_, full), *_ = await register_accounts(1, storage_bytes=MiB)  # gets the first upload
    others = await register_accounts(2)
    file_id = (await uploader.upload(pattern(2 * MiB), name="movie.mp4"))["id"]
    await worker()

    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    replicas = {r["account_id"]: r for r in file["replicas"]}
    assert {replicas[a["id"]]["state"] for _, a in others} == {"ready"}
    assert replicas[full["id"]]["state"] == "failed"
    assert "storageQuotaExceeded" in replicas[full["id"]]["error"]
    account = (await uploader.client.get(f"/accounts/{full['id']}", headers=ADMIN)).json()
    assert account["health"] == "storage_full"
    assert "storageQuotaExceeded" in account["health_reason"]
    await assert_catalog_matches(downloader.client)


async def test_a_copy_whose_sharing_fails_for_good_is_not_left_on_drive(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
    emulator_admin: EmulatorAdmin,
) -> None:
    """Regression (fault campaign): the upload succeeded, then sharing it met an error no
    retry follows; the replica failed and its Drive file stayed, referred to by nothing."""
    ((emulator_account, _),) = await register_accounts(1)
    await emulator_admin.set_faults(
        {"kind": "storageQuotaExceeded", "method": "POST", "path_prefix": "/drive/v3/files/"}
    )  # files/{id}/permissions: the share after the upload
    file_id = (await uploader.upload(b"x" * 1000, name="unshared.bin"))["id"]
    await worker()
    assert (await emulator_admin.faults())["rules"][0]["fired"] == 1
    await emulator_admin.clear_faults()

    file = await uploader.file(file_id)
    assert file["status"] == "failed"
    assert [r["drive_file_id"] for r in file["replicas"]] == [None]
    assert await drive_files(emulator_account, drive) == []


async def test_no_account_with_room_fails_the_file_and_keeps_its_bytes(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    mongo_db: AsyncDatabase[Any],
) -> None:
    await register_accounts(2, storage_bytes=MiB)
    file_id = (await uploader.upload(pattern(2 * MiB), name="too-big.bin"))["id"]
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "failed"
    assert file["failure_reason"].startswith("no account can take the file")
    assert "storageQuotaExceeded" in file["failure_reason"]
    assert file["staged"] is True
    assert await mongo_db["fs.files"].count_documents({}) == 1


async def test_downloader_away_events_wait_and_removal_waits_for_it(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
) -> None:
    accounts = await register_accounts(2)
    file_id = (await uploader.upload(pattern(MiB), name="doc.pdf"))["id"]
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as away:
        await worker(downloader=away)
        assert (await uploader.file(file_id))["status"] == "uploaded"
        assert await downloader_catalog(downloader.client, "file") == {}
        assert await downloader_catalog(downloader.client, "account") == {}

        # Deleting while the Downloader is away: its replicas stay on Drive, since the
        # Downloader could still hand them out.
        deleted = await uploader.client.delete(f"/files/{file_id}", headers=ADMIN)
        assert deleted.status_code == 202
        assert deleted.json()["status"] == "deleting"
        await worker(downloader=away)
        for emulator_account, _ in accounts:
            assert [f.name for f in await drive_files(emulator_account, drive)] == ["doc.pdf"]
        file = await uploader.file(file_id)
        assert {r["state"] for r in file["replicas"]} == {"removing"}

    await uploader.app.state.jobs.relay()  # what the relay's cron does every few seconds
    await worker()
    for emulator_account, _ in accounts:
        assert await drive_files(emulator_account, drive) == []
    assert (await uploader.client.get(f"/files/{file_id}", headers=ADMIN)).status_code == 404
    await uploader.app.state.jobs.relay()
    await worker()
    await assert_catalog_matches(downloader.client)
    catalog = await downloader_catalog(downloader.client, "file")
    assert catalog[file_id]["state"]["deleted"] is True


async def test_deleting_an_account_drains_it(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
) -> None:
    (leaving, leaving_row), (staying, _) = await register_accounts(2)
    file_id = (await uploader.upload(pattern(MiB), name="a.bin"))["id"]
    await worker()
    assert len((await uploader.file(file_id))["replicas"]) == 2

    response = await uploader.client.delete(f"/accounts/{leaving_row['id']}", headers=ADMIN)
    assert response.status_code == 202
    await worker()

    assert await drive_files(leaving, drive) == []
    assert [f.name for f in await drive_files(staying, drive)] == ["a.bin"]
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert [r["account_id"] for r in file["replicas"]] != [leaving_row["id"]]
    assert len(file["replicas"]) == 1
    gone = await uploader.client.get(f"/accounts/{leaving_row['id']}", headers=ADMIN)
    assert gone.status_code == 404
    await uploader.app.state.jobs.relay()
    await worker()
    await assert_catalog_matches(downloader.client)
    accounts = await downloader_catalog(downloader.client, "account")
    assert accounts[leaving_row["id"]]["state"]["deleted"] is True


async def test_credentials_never_reach_logs_or_answers(
    uploader: LiveUploader,
    emulator_admin: EmulatorAdmin,
    worker: RunWorker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    account = await emulator_admin.create_account()
    secrets = [
        value
        for key, value in account.credentials.items()
        if key in {"refresh_token", "client_secret", "private_key", "token"}
    ]
    assert secrets
    created = await uploader.client.post(
        "/accounts",
        json={"email": account.email, "credentials": account.credentials},
        headers=ADMIN,
    )
    assert created.status_code == 201
    file_id = (await uploader.upload(pattern(MiB), name="x.bin"))["id"]
    await worker()
    assert (await uploader.file(file_id))["status"] == "uploaded"
    answers = [
        created.text,
        (await uploader.client.get("/accounts", headers=ADMIN)).text,
        (await uploader.client.get(f"/accounts/{created.json()['id']}", headers=ADMIN)).text,
        (await uploader.client.get(f"/files/{file_id}", headers=ADMIN)).text,
        (await uploader.client.get("/metrics")).text,
    ]
    assert caplog.records  # the flow did log
    for secret in secrets:
        assert secret not in caplog.text
        for answer in answers:
            assert secret not in answer


async def test_failed_file_retried_after_room_is_made(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    emulator_admin: EmulatorAdmin,
    downloader: LiveDownloader,
    mongo_db: AsyncDatabase[Any],
) -> None:
    ((emulator_account, _),) = await register_accounts(1, storage_bytes=MiB)
    file_id = (await uploader.upload(pattern(2 * MiB), name="later.bin"))["id"]
    await worker()
    assert (await uploader.file(file_id))["status"] == "failed"

    await emulator_admin.set_limits(emulator_account.id, storage_bytes=100 * MiB)
    retried = await uploader.client.post(f"/files/{file_id}:retry", headers=ADMIN)
    assert retried.status_code == 202
    assert retried.json()["status"] == "replicating"
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert file["failure_reason"] is None
    assert await mongo_db["fs.files"].count_documents({}) == 0
    await assert_catalog_matches(downloader.client)


async def test_desired_replicas_raises_and_lowers_the_copies(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
) -> None:
    accounts = await register_accounts(3)
    file_id = (await uploader.upload(pattern(MiB), name="hot.bin"))["id"]
    one = await uploader.client.patch(
        f"/files/{file_id}", json={"desired_replicas": 1}, headers=ADMIN
    )
    assert one.status_code == 200
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert len(file["replicas"]) == 1

    three = await uploader.client.patch(
        f"/files/{file_id}", json={"desired_replicas": 3}, headers=ADMIN
    )
    assert three.json()["status"] == "uploaded"  # stays downloadable while copies are made
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert {r["state"] for r in file["replicas"]} == {"ready"}
    assert len(file["replicas"]) == 3  # made by copy: the staged bytes were gone

    await uploader.client.patch(f"/files/{file_id}", json={"desired_replicas": 2}, headers=ADMIN)
    await uploader.app.state.jobs.relay()
    await worker()
    await uploader.app.state.jobs.relay()  # the removal waits for the Downloader's ack
    await worker()
    file = await uploader.file(file_id)
    assert len(file["replicas"]) == 2
    on_drive = [len(await drive_files(a, drive)) for a, _ in accounts]
    assert sorted(on_drive) == [0, 1, 1]
