"""Fixtures of the emulator's wire tests: a real emulator process, raw HTTP with httpx.

Its uc virus-scan threshold is 1 MiB so that the scan page is reachable with small files.
``drive`` makes a fresh account and an HTTP client holding an access token obtained through
the emulator's own OAuth refresh grant.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.utils.drive import Emulator, EmulatorAccount, EmulatorAdmin

SCAN_THRESHOLD = 1024 * 1024


@dataclass
class Drive:
    """One account's view of the emulator over plain HTTP."""

    account: EmulatorAccount
    token: str
    http: httpx.AsyncClient

    async def upload(
        self, data: bytes, name: str = "file.bin", mime: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """A one-request resumable upload (works for any size); the file's JSON (all fields)."""
        started = await self.http.post(
            "/upload/drive/v3/files",
            params={"uploadType": "resumable", "fields": "*"},
            json={"name": name, "mimeType": mime},
            headers={"X-Upload-Content-Length": str(len(data))},
        )
        assert started.status_code == 200, started.text
        done = await self.http.put(started.headers["location"], content=data)
        assert done.status_code == 200, done.text
        result: dict[str, Any] = done.json()
        return result

    async def refresh(self) -> None:
        """A new access token (the old one expires on the emulated clock, e.g. at a rollover)."""
        self.token = await access_token(str(self.http.base_url), self.account.credentials)
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    async def share(self, file_id: str) -> None:
        answer = await self.http.post(
            f"/drive/v3/files/{file_id}/permissions", json={"type": "anyone", "role": "reader"}
        )
        assert answer.status_code == 200, answer.text


MakeDrive = Callable[..., Awaitable[Drive]]


def multipart(metadata: dict[str, Any], data: bytes, mime: str) -> tuple[bytes, str]:
    boundary = "fileserver-test-boundary"
    body = (
        (
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
            f"{json.dumps(metadata)}\r\n--{boundary}\r\nContent-Type: {mime}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f'multipart/related; boundary="{boundary}"'


def drive_error(status: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    """Drive's error body, for exact comparisons."""
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": domain, "reason": reason, "message": message}],
        }
    }


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    process = Emulator(
        tmp_path_factory.mktemp("drive-emulator-wire"),
        env={"FILESERVER_DRIVE_EMULATOR_UC_SCAN_THRESHOLD_BYTES": str(SCAN_THRESHOLD)},
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def admin(emulator: Emulator) -> AsyncIterator[EmulatorAdmin]:
    client = emulator.admin()
    yield client
    await client.clear_faults()
    await client.aclose()


async def access_token(url: str, credentials: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=url) as http:
        answer = await http.post(
            "/token",
            data={
                "grant_type": "refresh_token",
                "client_id": credentials["client_id"],
                "client_secret": credentials["client_secret"],
                "refresh_token": credentials["refresh_token"],
            },
        )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
async def drive(emulator: Emulator, admin: EmulatorAdmin) -> AsyncIterator[MakeDrive]:
    """Factory: a fresh OAuth account (with optional limits) and its HTTP client."""
    clients: list[httpx.AsyncClient] = []

    async def make(**limits: int) -> Drive:
        account = await admin.create_account("authorized_user", **limits)
        token = await access_token(emulator.url, account.credentials)
        http = httpx.AsyncClient(
            base_url=emulator.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        clients.append(http)
        return Drive(account, token, http)

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
async def anonymous(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.url, timeout=60) as http:
        yield http
