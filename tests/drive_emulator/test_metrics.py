"""Prometheus metrics: bytes served and stored per account, errors by Drive reason."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.drive_emulator.conftest import MakeDrive
from tests.utils.drive import EmulatorAdmin

pytestmark = pytest.mark.integration


async def test_bytes_and_errors_are_counted(
    drive: MakeDrive, admin: EmulatorAdmin, anonymous: httpx.AsyncClient
) -> None:
    api = await drive()
    account = api.account.id
    file_id = (await api.upload(os.urandom(70_000)))["id"]
    await api.share(file_id)
    await anonymous.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
    await anonymous.get(
        f"/drive/v3/files/{file_id}", params={"alt": "media"}, headers={"Range": "bytes=0-99"}
    )
    assert await admin.metric("drive_emulator_bytes_served_total", account=account) == 70_100
    assert await admin.metric("drive_emulator_bytes_stored", account=account) == 70_000
    assert await admin.metric("drive_emulator_bytes_received_total", account=account) == 70_000

    before = await admin.metric("drive_emulator_errors_total", reason="notFound")
    await api.http.get("/drive/v3/files/missing")
    assert await admin.metric("drive_emulator_errors_total", reason="notFound") == before + 1

    await api.http.delete(f"/drive/v3/files/{file_id}")
    assert await admin.metric("drive_emulator_bytes_stored", account=account) == 0
    requests = await admin.metric(
        "fileserver_http_requests_total",
        service="drive-emulator",
        route="/drive/v3/files/{file_id}",
    )
    assert requests >= 1
