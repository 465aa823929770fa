"""Placement within storage limits: a catalog larger than one account ends up placed within
every account's limit, each file at its count; a limit below what an account holds is refused
and nothing changes."""

from __future__ import annotations

import pytest

from services.drive.config import DriveSettings
from tests.uploader.conftest import RegisterAccounts, RunWorker
from tests.uploader.test_replication import drive_files
from tests.utils.uploader import ADMIN, LiveUploader, MiB, pattern

pytestmark = pytest.mark.integration

LIMIT = 2 * MiB + MiB // 2  # room for two 1 MiB files per account, not three


async def test_a_catalog_larger_than_one_account_is_placed_within_every_limit(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
) -> None:
    made = await register_accounts(3)
    for _, account in made:
        answer = await uploader.client.patch(
            f"/accounts/{account['id']}", json={"storage_limit_bytes": LIMIT}, headers=ADMIN
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["storage_limit_bytes"] == LIMIT
    # Three files of 1 MiB, two replicas each: 6 MiB on a pool of 7.5 MiB, where "every
    # account" (9 MiB) cannot fit.
    ids = []
    for n in range(3):
        ids.append((await uploader.upload(pattern(MiB, seed=n), name=f"f{n}.bin"))["id"])
        patched = await uploader.client.patch(
            f"/files/{ids[-1]}", json={"desired_replicas": 2}, headers=ADMIN
        )
        assert patched.status_code == 200
    # A fourth file placed on every account gets only the accounts with room.
    everywhere = (await uploader.upload(pattern(MiB // 4, seed=9), name="small.bin"))["id"]
    await worker()
    for file_id in ids:
        file = await uploader.file(file_id)
        assert file["status"] == "uploaded"
        assert [r["state"] for r in file["replicas"]] == ["ready", "ready"]
    small = await uploader.file(everywhere)
    assert small["status"] == "uploaded"
    listing = (await uploader.client.get("/accounts", headers=ADMIN)).json()["items"]
    for read in listing:
        assert read["stored_bytes"] <= LIMIT
    assert sum(read["stored_bytes"] for read in listing) == 6 * MiB + len(small["replicas"]) * (
        MiB // 4
    )
    # Drive agrees: what each account holds there is what the catalog says.
    for emulated, account in made:
        on_drive = sum(f.size for f in await drive_files(emulated, drive))
        assert on_drive == next(r["stored_bytes"] for r in listing if r["id"] == account["id"])


async def test_a_storage_limit_below_what_an_account_holds_is_refused_and_nothing_changes(
    uploader: LiveUploader, register_accounts: RegisterAccounts, worker: RunWorker
) -> None:
    ((_, account),) = await register_accounts(1)
    await uploader.upload(pattern(MiB), name="held.bin")
    await worker()
    path = f"/accounts/{account['id']}"
    refused = await uploader.client.patch(
        path, json={"storage_limit_bytes": MiB // 2, "daily_budget_bytes": 5}, headers=ADMIN
    )
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert f"below the {MiB} bytes" in detail
    after = (await uploader.client.get(path, headers=ADMIN)).json()
    assert after["storage_limit_bytes"] is None
    assert after["daily_budget_bytes"] == account["daily_budget_bytes"]  # not half-applied
    assert after["stored_bytes"] == MiB
    for bad in (0, -1, "15G"):
        answer = await uploader.client.patch(path, json={"storage_limit_bytes": bad}, headers=ADMIN)
        assert answer.status_code == 422, answer.text
    fits = await uploader.client.patch(path, json={"storage_limit_bytes": MiB}, headers=ADMIN)
    assert fits.status_code == 200
    removed = await uploader.client.patch(path, json={"storage_limit_bytes": None}, headers=ADMIN)
    assert removed.json()["storage_limit_bytes"] is None
