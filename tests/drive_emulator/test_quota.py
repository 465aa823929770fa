"""Limits enforced where the bytes flow: the daily download budget (refused before it is passed,
whole again after the rollover), hot-file locks, refunds for bytes never sent, the 750 GB/day
upload cap, storage, and the request rate."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.drive_emulator.conftest import MakeDrive, drive_error
from tests.utils.drive import Emulator, EmulatorAdmin
from tests.utils.waiting import eventually

pytestmark = pytest.mark.integration

KiB = 1024
MiB = 1024 * KiB
SIZE = 32 * MiB
DOWNLOAD_QUOTA = drive_error(
    403,
    "downloadQuotaExceeded",
    "The download quota for this file has been exceeded.",
    domain="usageLimits",
)


async def test_download_budget_refuses_then_rolls_over(
    drive: MakeDrive, admin: EmulatorAdmin, anonymous: httpx.AsyncClient
) -> None:
    api = await drive(download_bytes_per_day=250 * KiB)
    data = os.urandom(100 * KiB)
    file_id = (await api.upload(data))["id"]
    await api.share(file_id)
    url = f"/drive/v3/files/{file_id}"
    for _ in range(2):
        assert (await anonymous.get(url, params={"alt": "media"})).content == data
    # 200 KiB used of 250: a whole file would pass the budget, a 50 KiB range would not.
    refused = await anonymous.get(url, params={"alt": "media"})
    assert refused.status_code == 403
    assert refused.json() == DOWNLOAD_QUOTA
    page = await anonymous.get("/uc", params={"id": file_id, "export": "download"})
    assert page.status_code == 403
    assert "Too many users have viewed or downloaded this file recently" in page.text
    part = await anonymous.get(
        url, params={"alt": "media"}, headers={"Range": f"bytes=0-{50 * KiB - 1}"}
    )
    assert part.status_code == 206
    usage = (await admin.account(api.account.id))["usage"]
    assert usage["downloaded_bytes"] == 250 * KiB

    clock = await admin.rollover()

    assert clock["day"] != usage["day"]
    assert (await anonymous.get(url, params={"alt": "media"})).content == data
    assert (await admin.account(api.account.id))["usage"]["downloaded_bytes"] == 100 * KiB


async def test_a_hot_file_is_locked_whatever_the_budget(
    drive: MakeDrive, admin: EmulatorAdmin, anonymous: httpx.AsyncClient
) -> None:
    api = await drive(file_download_bytes_per_day=20 * KiB)
    data = os.urandom(10 * KiB)
    hot = (await api.upload(data))["id"]
    await api.share(hot)
    replica = (await api.http.post(f"/drive/v3/files/{hot}/copy", json={})).json()["id"]
    await api.share(replica)

    async def get(file_id: str) -> httpx.Response:
        return await anonymous.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})

    assert (await get(hot)).status_code == 200
    assert (await get(hot)).status_code == 200
    assert (await get(hot)).json() == DOWNLOAD_QUOTA
    assert (await get(replica)).content == data  # another file id: another replica
    await admin.rollover()
    assert (await get(hot)).status_code == 403  # the lock lasts a day, not until midnight
    await admin.advance(24 * 3600)
    assert (await get(hot)).content == data


async def test_bytes_never_sent_are_refunded(
    drive: MakeDrive, admin: EmulatorAdmin, emulator: Emulator
) -> None:
    """A client that goes away after 256 KiB of a 32 MiB file is charged about what it got
    (kernel buffers hold a few MiB more), not the whole file."""
    api = await drive()
    file_id = (await api.upload(os.urandom(SIZE)))["id"]
    async with (
        httpx.AsyncClient(base_url=emulator.url, headers=api.http.headers) as http,
        http.stream("GET", f"/drive/v3/files/{file_id}", params={"alt": "media"}) as answer,
    ):
        got = 0
        async for piece in answer.aiter_raw():
            got += len(piece)
            if got >= 256 * KiB:
                break

    async def refunded() -> None:
        used = (await admin.account(api.account.id))["usage"]["downloaded_bytes"]
        assert got <= used < SIZE // 2

    await eventually(refunded, within=30)


async def test_upload_cap_lets_the_upload_that_crosses_it_finish(
    drive: MakeDrive, admin: EmulatorAdmin
) -> None:
    api = await drive(upload_bytes_per_day=150 * KiB)
    await api.upload(os.urandom(100 * KiB))
    await api.upload(os.urandom(100 * KiB))  # starts under the cap, so it completes
    refused = await api.http.post(
        "/upload/drive/v3/files", params={"uploadType": "resumable"}, json={"name": "x"}
    )
    assert refused.status_code == 403
    assert refused.json() == drive_error(
        403, "userRateLimitExceeded", "User rate limit exceeded.", domain="usageLimits"
    )
    assert (await admin.account(api.account.id))["usage"]["uploaded_bytes"] == 200 * KiB
    await admin.rollover()
    await api.refresh()
    await api.upload(os.urandom(KiB))


async def test_storage_limit_covers_copies(drive: MakeDrive) -> None:
    api = await drive(storage_bytes=150 * KiB)
    file_id = (await api.upload(os.urandom(100 * KiB)))["id"]
    copy = await api.http.post(f"/drive/v3/files/{file_id}/copy", json={})
    assert copy.status_code == 403
    assert copy.json()["error"]["errors"][0]["reason"] == "storageQuotaExceeded"


async def test_request_rate(drive: MakeDrive) -> None:
    api = await drive(requests_per_minute=3)
    for _ in range(3):
        assert (await api.http.get("/drive/v3/files")).status_code == 200
    limited = await api.http.get("/drive/v3/files")
    assert limited.status_code == 403
    assert limited.json() == drive_error(
        403, "userRateLimitExceeded", "User Rate Limit Exceeded", domain="usageLimits"
    )
