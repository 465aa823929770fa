"""Urgent work before background work: a new file does not wait behind a backfill, and an
account that is disabled has its queued copies cancelled at once.

The backfill is started by hand (:func:`replication.backfill_account`), so its copies wait in
the background queue *before* the new file is uploaded: in one queue served in order, the new
file's jobs would come after all of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.drive.config import DriveSettings
from services.uploader import replication
from tests.uploader.conftest import RegisterAccounts, RunWorker
from tests.uploader.test_backfill import replicator
from tests.utils.drive import EmulatorAccount, EmulatorAdmin
from tests.utils.uploader import ADMIN, LiveUploader, pattern

pytestmark = pytest.mark.integration

FILES = 24


async def _catalog(uploader: LiveUploader, count: int) -> list[str]:
    ids = []
    for i in range(count):
        ids.append((await uploader.upload(pattern(4096, seed=i), name=f"old-{i}.bin"))["id"])
    return ids


async def _queued_copies(uploader: LiveUploader, account_id: str) -> dict[str, int]:
    """Replicate jobs to ``account_id`` waiting in each queue."""
    jobs = uploader.app.state.jobs
    suffix = f":{account_id}".encode()
    counts = {}
    for queue in (jobs.queue_name, jobs.background_queue):
        waiting = await jobs.redis.zrange(queue, 0, -1)
        copies = [j for j in waiting if j.startswith(b"replicate:") and j.endswith(suffix)]
        counts[queue] = len(copies)
    return counts


async def _backfill_waiting(
    uploader: LiveUploader, register: RegisterAccounts, worker: RunWorker, drive: DriveSettings
) -> tuple[list[str], EmulatorAccount, dict[str, Any]]:
    """``FILES`` files uploaded to one account, then a second account whose backfill copies
    (one per file) are queued and not yet run: the files, and the new account."""
    await register(1)
    files = await _catalog(uploader, FILES)
    await worker()
    ((emulated, account),) = await register(1)
    placed = await replication.backfill_account(replicator(uploader, drive), account["id"])
    assert placed == FILES
    return files, emulated, account


def _ready_at(file: dict[str, Any], account_id: str) -> datetime:
    (replica,) = [r for r in file["replicas"] if r["account_id"] == account_id]
    assert replica["state"] == "ready", file
    return datetime.fromisoformat(replica["updated_at"])


async def test_a_new_file_does_not_wait_behind_a_backfill(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
) -> None:
    old, _, new_account = await _backfill_waiting(uploader, register_accounts, worker, drive)
    jobs = uploader.app.state.jobs
    assert await _queued_copies(uploader, new_account["id"]) == {
        jobs.queue_name: 0,
        jobs.background_queue: FILES,  # copies of served files wait in the background
    }

    fresh = (await uploader.upload(pattern(8192, seed=99), name="new.bin"))["id"]
    await worker({"worker_background_jobs": 1, "worker_max_jobs": 2})

    new = await uploader.file(fresh)
    assert new["status"] == "uploaded"
    finished = max(_ready_at(new, r["account_id"]) for r in new["replicas"])
    backfilled = [_ready_at(await uploader.file(f), new_account["id"]) for f in old]
    before = sum(1 for t in backfilled if t < finished)
    # With one background slot the backfill's copies run one by one beside the new file's:
    # the new file is done while most of them still wait (one queue would serve all first).
    assert before < FILES // 2, (before, FILES)


async def test_disabling_an_account_cancels_its_queued_copies_at_once(
    uploader: LiveUploader,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
    drive: DriveSettings,
    emulator_admin: EmulatorAdmin,
) -> None:
    files, emulated, doomed = await _backfill_waiting(uploader, register_accounts, worker, drive)
    assert sum((await _queued_copies(uploader, doomed["id"])).values()) == FILES

    disabled = await uploader.client.patch(
        f"/accounts/{doomed['id']}", json={"enabled": False}, headers=ADMIN
    )
    assert disabled.status_code == 200, disabled.text
    # At once: nothing waits to be copied to it any more.
    assert sum((await _queued_copies(uploader, doomed["id"])).values()) == 0

    await worker()
    for file_id in files:
        file = await uploader.file(file_id)
        assert file["status"] == "uploaded"
        assert doomed["id"] not in {r["account_id"] for r in file["replicas"]}, file
    assert await emulator_admin.files(emulated.id) == []  # not one copy was made
