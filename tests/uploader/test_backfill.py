"""Backfill, replica counts and credential checks, against the Drive emulator and a Downloader.

A file that was downloadable stays downloadable while copies are added or removed: the
Downloader answers 409 for any status but ``uploaded``, so these tests ask it for a URL at
each step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from services.drive.config import DriveSettings
from services.uploader import relay, replication
from services.uploader.models import Account, AccountHealth
from services.uploader.vault import Vault
from tests.uploader.conftest import RegisterAccounts, RunWorker
from tests.uploader.test_replication import drive_files
from tests.utils.downloader import INTERNAL_TOKEN, LiveDownloader
from tests.utils.drive import EmulatorAdmin
from tests.utils.uploader import ADMIN, LiveUploader, MiB, assert_catalog_matches, pattern

pytestmark = pytest.mark.integration


def replicator(uploader: LiveUploader, drive: DriveSettings) -> replication.Replicator:
    """The worker's replication state, to run one step (a sweep, a backfill) by hand."""
    state = uploader.app.state
    return replication.Replicator(
        settings=uploader.settings,
        drive=drive,
        vault=Vault(uploader.settings.credentials_key.get_secret_value()),
        staging=state.staging,
        jobs=state.jobs,
    )


async def deliver(uploader: LiveUploader, downloader: LiveDownloader) -> None:
    """What the relay job does: send every pending change to the Downloader."""
    await relay.relay_all(
        http=downloader.client, token=INTERNAL_TOKEN, jobs=uploader.app.state.jobs, limit=200
    )


async def assert_downloadable(downloader: LiveDownloader, file_id: str) -> str:
    """The Downloader hands out a URL for the file; the account it chose."""
    response = await downloader.client.get(f"/files/{file_id}/download")
    assert response.status_code == 200, response.text
    account_id: str = response.json()["account_id"]
    return account_id


def states(file: dict[str, Any]) -> dict[str, str]:
    return {r["account_id"]: r["state"] for r in file["replicas"]}


async def replica_counts(uploader: LiveUploader) -> dict[str, int]:
    listing = await uploader.client.get("/accounts", headers=ADMIN)
    assert listing.status_code == 200
    return {a["id"]: a["replicas"] for a in listing.json()["items"]}


async def test_a_new_account_gets_existing_files_while_they_stay_downloadable(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replication, "BACKFILL_BATCH", 1)  # the cursor reads on between writes
    (_, a), (_, b) = await register_accounts(2)
    two = (await uploader.upload(pattern(MiB, seed=2), name="two.bin"))["id"]
    everywhere = (await uploader.upload(pattern(MiB, seed=1), name="everywhere.bin"))["id"]
    also = (await uploader.upload(pattern(MiB, seed=3), name="also.bin"))["id"]
    patched = await uploader.client.patch(
        f"/files/{two}", json={"desired_replicas": 2}, headers=ADMIN
    )
    assert patched.status_code == 200
    await worker()
    assert await replica_counts(uploader) == {a["id"]: 3, b["id"]: 3}

    ((emulator_c, c),) = await register_accounts(1)
    # The backfill's first step, by hand: the file gets a pending copy on the new account
    # and stays uploaded, so the Downloader keeps serving it from the ready ones.
    assert await replication.backfill_account(replicator(uploader, drive), c["id"]) == 2
    assert states(await uploader.file(also))[c["id"]] == "pending"
    file = await uploader.file(everywhere)
    assert file["status"] == "uploaded"
    assert states(file) == {a["id"]: "ready", b["id"]: "ready", c["id"]: "pending"}
    await deliver(uploader, downloader)
    assert await assert_downloadable(downloader, everywhere) in {a["id"], b["id"]}

    await worker()
    file = await uploader.file(everywhere)
    assert file["status"] == "uploaded"
    assert states(file) == {a["id"]: "ready", b["id"]: "ready", c["id"]: "ready"}
    assert len(states(await uploader.file(two))) == 2  # its count was met already
    on_c = sorted(f.name for f in await drive_files(emulator_c, drive))
    assert on_c == ["also.bin", "everywhere.bin"]
    assert await replica_counts(uploader) == {a["id"]: 3, b["id"]: 3, c["id"]: 2}
    one = await uploader.client.get(f"/accounts/{c['id']}", headers=ADMIN)
    assert one.json()["replicas"] == 2
    await uploader.app.state.jobs.relay()
    await worker()
    await assert_downloadable(downloader, everywhere)
    await assert_catalog_matches(downloader.client)


async def test_backfill_respects_quota_and_retries_after_the_account_changed(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    emulator_admin: EmulatorAdmin,
) -> None:
    (_, roomy), *_ = await register_accounts(1)
    file_id = (await uploader.upload(pattern(2 * MiB), name="movie.mp4"))["id"]
    await worker()
    assert (await uploader.file(file_id))["status"] == "uploaded"

    ((emulator_small, small),) = await register_accounts(1, storage_bytes=MiB)
    await worker()  # its backfill: Drive refuses the copy for quota
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"  # never failed by a backfill copy
    replica = next(r for r in file["replicas"] if r["account_id"] == small["id"])
    assert replica["state"] == "failed"
    assert "storageQuotaExceeded" in replica["error"]
    account = (await uploader.client.get(f"/accounts/{small['id']}", headers=ADMIN)).json()
    assert account["health"] == "storage_full"
    assert await assert_downloadable(downloader, file_id) == roomy["id"]

    # A sweep does not hammer an account that refused the file.
    await replication.sweep(
        replicator(uploader, DriveSettings(root_url="http://127.0.0.1:9/")),
        orphans_after=timedelta(hours=1),
    )
    assert states(await uploader.file(file_id))[small["id"]] == "failed"
    # Nor does a retry fail (or hide) the uploaded file when Drive refuses again.
    retried = await uploader.client.post(f"/files/{file_id}:retry", headers=ADMIN)
    assert retried.status_code == 202
    assert retried.json()["status"] == "uploaded"
    assert states(retried.json())[small["id"]] == "pending"
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert states(file)[small["id"]] == "failed"
    assert await assert_downloadable(downloader, file_id) == roomy["id"]

    # Room is made; disabling and enabling the account again is the operator's nudge.
    await emulator_admin.set_limits(emulator_small.id, storage_bytes=100 * MiB)
    path = f"/accounts/{small['id']}"
    assert (await uploader.client.patch(path, json={"enabled": False}, headers=ADMIN)).is_success
    assert (await uploader.client.patch(path, json={"enabled": True}, headers=ADMIN)).is_success
    await worker()
    file = await uploader.file(file_id)
    assert states(file) == {roomy["id"]: "ready", small["id"]: "ready"}
    account = (await uploader.client.get(path, headers=ADMIN)).json()
    assert account["health"] == "ok"
    assert account["replicas"] == 1
    await uploader.app.state.jobs.relay()
    await worker()
    await assert_catalog_matches(downloader.client)


async def test_the_sweep_places_files_below_their_placement(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
) -> None:
    ((_, b),) = await register_accounts(1)
    file_id = (await uploader.upload(pattern(MiB), name="lost.bin"))["id"]
    await worker()
    assert states(await uploader.file(file_id)) == {b["id"]: "ready"}
    # A new account whose backfill job was lost (Redis flushed, say): only the sweep notices.
    ((_, c),) = await register_accounts(1)
    await uploader.app.state.jobs.redis.delete(f"arq:job:backfill_account:{c['id']}")
    jobs = uploader.app.state.jobs
    await jobs.redis.delete(jobs.queue_name, jobs.background_queue)

    await replication.sweep(replicator(uploader, drive), orphans_after=timedelta(hours=1))
    assert states(await uploader.file(file_id)) == {b["id"]: "ready", c["id"]: "pending"}
    await worker()
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert states(file) == {b["id"]: "ready", c["id"]: "ready"}


async def test_fewer_replicas_remove_one_from_drive_and_null_brings_them_back(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    downloader: LiveDownloader,
    drive: DriveSettings,
) -> None:
    accounts = await register_accounts(3)
    file_id = (await uploader.upload(pattern(MiB), name="hot.bin"))["id"]
    await worker()
    assert set(states(await uploader.file(file_id)).values()) == {"ready"}
    assert len(states(await uploader.file(file_id))) == 3

    two = await uploader.client.patch(
        f"/files/{file_id}", json={"desired_replicas": 2}, headers=ADMIN
    )
    assert two.status_code == 200
    assert two.json()["status"] == "uploaded"
    await uploader.app.state.jobs.relay()
    await worker()  # one replica leaves the Downloader's choices
    await assert_downloadable(downloader, file_id)
    await uploader.app.state.jobs.relay()
    await worker()  # acknowledged: deleted from Drive
    file = await uploader.file(file_id)
    assert file["status"] == "uploaded"
    assert sorted(states(file).values()) == ["ready", "ready"]
    on_drive = [len(await drive_files(account, drive)) for account, _ in accounts]
    assert sorted(on_drive) == [0, 1, 1]
    for _ in range(4):
        assert await assert_downloadable(downloader, file_id) in states(file)

    every = await uploader.client.patch(
        f"/files/{file_id}", json={"desired_replicas": None}, headers=ADMIN
    )
    assert every.status_code == 200
    assert every.json()["desired_replicas"] is None
    assert every.json()["status"] == "uploaded"
    await worker()
    file = await uploader.file(file_id)
    assert states(file) == {row["id"]: "ready" for _, row in accounts}
    assert [len(await drive_files(account, drive)) for account, _ in accounts] == [1, 1, 1]
    await uploader.app.state.jobs.relay()
    await worker()
    await assert_downloadable(downloader, file_id)
    await assert_catalog_matches(downloader.client)


# Credential check ----------------------------------------------------------------------------


async def check(uploader: LiveUploader, account_id: str) -> Any:
    return await uploader.client.post(f"/accounts/{account_id}:check", headers=ADMIN)


async def test_check_reports_storage_and_marks_refused_credentials(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    emulator_admin: EmulatorAdmin,
) -> None:
    ((emulator_account, account),) = await register_accounts(1, storage_bytes=5 * MiB)
    ok = await check(uploader, account["id"])
    assert ok.status_code == 200, ok.text
    assert ok.json() == {
        "ok": True,
        "reason": None,
        "storage_used_bytes": 0,
        "storage_limit_bytes": 5 * MiB,
    }

    await emulator_admin.revoke(emulator_account.id)
    refused = await check(uploader, account["id"])
    assert refused.status_code == 200, refused.text
    assert refused.json()["ok"] is False
    assert refused.json()["reason"]
    assert refused.json()["storage_used_bytes"] is None
    stored = (await uploader.client.get(f"/accounts/{account['id']}", headers=ADMIN)).json()
    assert stored["health"] == "auth_failed"
    assert stored["health_reason"] == refused.json()["reason"]


async def test_check_clears_an_auth_failure_and_queues_a_backfill(
    uploader: LiveUploader, register_accounts: RegisterAccounts
) -> None:
    ((_, account),) = await register_accounts(1)
    redis = uploader.app.state.jobs.redis
    await redis.delete(f"arq:job:backfill_account:{account['id']}")
    await Account.get_pymongo_collection().update_one(
        {"_id": account["id"]},
        {"$set": {"health": AccountHealth.AUTH_FAILED.value, "health_reason": "401"}},
    )
    response = await check(uploader, account["id"])
    assert response.json()["ok"] is True
    stored = (await uploader.client.get(f"/accounts/{account['id']}", headers=ADMIN)).json()
    assert stored["health"] == "ok"
    assert stored["health_reason"] is None
    assert await redis.exists(f"arq:job:backfill_account:{account['id']}")


async def test_check_with_drive_failing_is_503_not_a_verdict(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    emulator_admin: EmulatorAdmin,
) -> None:
    ((_, account),) = await register_accounts(1)
    await emulator_admin.set_faults({"kind": "backendError", "rate": 1.0})
    response = await check(uploader, account["id"])
    assert response.status_code == 503
    assert "could not check" in response.json()["detail"]
    assert "backendError" in response.json()["detail"]
    stored = (await uploader.client.get(f"/accounts/{account['id']}", headers=ADMIN)).json()
    assert stored["health"] == "ok"
