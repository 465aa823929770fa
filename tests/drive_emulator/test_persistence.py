"""A restarted emulator has everything it had: accounts, tokens, files, half-done uploads,
today's ledger and its clock."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.drive_emulator.conftest import access_token
from tests.utils.drive import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def own_emulator(tmp_path: Path) -> Iterator[Emulator]:
    process = Emulator(tmp_path)
    process.start()
    yield process
    process.stop()


async def test_state_survives_a_restart(own_emulator: Emulator) -> None:
    admin = own_emulator.admin()
    try:
        account = await admin.create_account(download_bytes_per_day=10**6)
        token = await access_token(own_emulator.url, account.credentials)
        headers = {"Authorization": f"Bearer {token}"}
        data = os.urandom(300_000)
        async with httpx.AsyncClient(base_url=own_emulator.url, headers=headers) as http:
            started = await http.post(
                "/upload/drive/v3/files",
                params={"uploadType": "resumable"},
                json={"name": "half.bin"},
                headers={"X-Upload-Content-Length": str(len(data))},
            )
            session = started.headers["location"]
            first = await http.put(
                session,
                content=data[:262144],
                headers={"Content-Range": f"bytes 0-262143/{len(data)}"},
            )
            assert first.status_code == 308
            done = await http.post(
                "/upload/drive/v3/files", params={"uploadType": "media"}, content=b"kept"
            )
            kept_id = done.json()["id"]
            await http.get(f"/drive/v3/files/{kept_id}", params={"alt": "media"})
            clock = await admin.advance(1234.5)
        await admin.aclose()

        own_emulator.restart()

        admin = own_emulator.admin()
        async with httpx.AsyncClient(base_url=own_emulator.url, headers=headers) as http:
            asked = await http.put(session, headers={"Content-Range": f"bytes */{len(data)}"})
            assert asked.headers["range"] == "bytes=0-262143"
            finished = await http.put(
                session,
                content=data[262144:],
                headers={"Content-Range": f"bytes 262144-{len(data) - 1}/{len(data)}"},
            )
            assert finished.status_code == 200
            half_id = finished.json()["id"]
            whole = await http.get(f"/drive/v3/files/{half_id}", params={"alt": "media"})
            assert hashlib.sha256(whole.content).digest() == hashlib.sha256(data).digest()
            kept = await http.get(f"/drive/v3/files/{kept_id}", params={"alt": "media"})
            assert kept.content == b"kept"
        view = await admin.account(account.id)
        assert view["limits"]["download_bytes_per_day"] == 10**6
        assert view["usage"]["downloaded_bytes"] == 4 + len(data) + 4  # 4 before the restart
        assert view["usage"]["stored_bytes"] == 4 + len(data)
        assert (await admin.clock())["offset_seconds"] == clock["offset_seconds"]
    finally:
        await admin.aclose()
