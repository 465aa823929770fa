"""Fixtures of the Drive client tests: one emulator process per session, fresh accounts per test.

Every test gets its own accounts, so tests never share quota or files; fault rules are cleared
after each test. Clients back off for milliseconds, and record each backoff delay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from tests.utils.drive import Emulator, EmulatorAccount, EmulatorAdmin

CHUNK = 1024 * 1024

MakeClient = Callable[..., Awaitable[tuple[EmulatorAccount, DriveClient]]]


class SleepRecorder:
    """Stands in for asyncio.sleep in the client's backoff: records delays, waits for none."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


@pytest.fixture(scope="session")
def drive_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    emulator = Emulator(tmp_path_factory.mktemp("drive-emulator"))
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
def drive_settings(drive_emulator: Emulator) -> DriveSettings:
    return DriveSettings(
        root_url=drive_emulator.url,
        chunk_size=CHUNK,
        retry_max_attempts=4,
        retry_initial_seconds=0.01,
        retry_max_seconds=1.0,
        retry_jitter_seconds=0.005,
        http_timeout_seconds=60,
    )


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def make_client(
    emulator_admin: EmulatorAdmin, drive_settings: DriveSettings, sleeps: SleepRecorder
) -> AsyncIterator[MakeClient]:
    """Factory: a new emulator account (of a kind, with limits) and a client for it."""
    clients: list[DriveClient] = []

    async def make(
        kind: str = "authorized_user", *, settings: DriveSettings | None = None, **limits: int
    ) -> tuple[EmulatorAccount, DriveClient]:
        account = await emulator_admin.create_account(kind, **limits)
        client = DriveClient(
            account.parsed(), settings or drive_settings, account_id=account.id, sleep=sleeps
        )
        clients.append(client)
        return account, client

    yield make
    for client in clients:
        await client.aclose()
