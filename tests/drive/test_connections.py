"""The client never sends on a connection the server closed while it was idle.

This module's emulator closes idle connections after 1 s (``KEEP_ALIVE_SECONDS``; Google's
front ends after minutes): every pause longer than that, between calls or inside an upload
whose source is slow (GridFS under load), leaves the client's kept-alive connection closed by
its peer. The transport finds it closed before the next request and opens another, so no call
fails and nothing is retried because of it; a chunk cut midway after such a pause still
resumes from Drive's offset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from prometheus_client import REGISTRY

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from tests.drive.conftest import MakeClient
from tests.utils.drive import Emulator, EmulatorAdmin, PatternSource

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
CHUNK = MiB
IDLE = 2.5  # seconds: longer than the emulator keeps an idle connection


@pytest.fixture(scope="module")
def drive_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """This module's emulator (in place of conftest's): it closes idle connections after 1 s;
    conftest's ``emulator_admin``, ``drive_settings`` and ``make_client`` then use it."""
    emulator = Emulator(
        tmp_path_factory.mktemp("closing-emulator"),
        env={"FILESERVER_DRIVE_EMULATOR_KEEP_ALIVE_SECONDS": "1"},
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
async def client(make_client: MakeClient, drive_settings: DriveSettings) -> tuple[str, DriveClient]:
    # One thread, one connection: every pause finds it closed.
    settings = drive_settings.model_copy(update={"concurrency_per_account": 1})
    account, drive = await make_client(settings=settings)
    return account.id, drive


def _counted(name: str, **labels: str) -> float:
    """The sum of a counter's samples whose labels include ``labels``."""
    total = 0.0
    for metric in REGISTRY.collect():
        for sample in metric.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


async def _pausing(source: PatternSource, *, before: int) -> AsyncIterator[bytes]:
    """``source``'s stream, stalled for longer than the server's idle timeout before the
    piece that starts at byte ``before``."""
    sent = 0
    async for piece in source.stream():
        if sent == before:
            await asyncio.sleep(IDLE)
        sent += len(piece)
        yield piece


async def test_no_call_fails_on_a_connection_the_server_closed_while_idle(
    client: tuple[str, DriveClient],
) -> None:
    account, drive = client
    retries = _counted("fileserver_drive_retries_total", account=account)
    reopened = _counted("fileserver_drive_connections_reopened_total")

    await drive.about()
    await asyncio.sleep(IDLE)
    await drive.about()  # on a connection closed 1.5 s ago, were it reused
    source = PatternSource(4 * MiB, piece=CHUNK)
    made = await drive.upload(_pausing(source, before=2 * CHUNK), "paused.bin", 4 * MiB)
    await asyncio.sleep(IDLE)
    await drive.share_anyone_reader(made.id)

    assert made.md5 == source.md5.hexdigest()
    assert _counted("fileserver_drive_retries_total", account=account) == retries
    # The connection was closed by the server after each pause, and replaced before use.
    assert _counted("fileserver_drive_connections_reopened_total") >= reopened + 3


async def test_a_chunk_cut_after_a_long_pause_resumes_from_drives_offset(
    client: tuple[str, DriveClient],
    emulator_admin: EmulatorAdmin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account, drive = client
    cut = 2 * CHUNK + 300_000  # inside the third chunk, sent after the pause
    await emulator_admin.set_faults(
        {
            "kind": "drop",
            "account": account,
            "method": "PUT",
            "path_prefix": "/upload/",
            "skip": 2,
            "count": 1,
            "after_bytes": 300_000,
        }
    )
    retries = _counted("fileserver_drive_retries_total", account=account)
    caplog.set_level(logging.INFO, logger="services.drive.client")
    source = PatternSource(4 * MiB, piece=CHUNK)

    made = await drive.upload(_pausing(source, before=2 * CHUNK), "cut.bin", 4 * MiB)

    assert made.md5 == source.md5.hexdigest()
    assert (await emulator_admin.faults())["rules"][0]["fired"] == 1
    assert f"resumed at byte {cut} of {4 * MiB}, Drive's offset" in caplog.text
    # One retry: the cut. None for the connection the pause let the server close.
    assert _counted("fileserver_drive_retries_total", account=account) == retries + 1
