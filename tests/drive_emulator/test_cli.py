"""``fileserver drive emulator``: its options set the limits, the rollover and the scan page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.utils.drive import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def tuned(tmp_path: Path) -> Iterator[Emulator]:
    process = Emulator(
        tmp_path,
        args=["--download-budget", "5000", "--file-cap", "0", "--rollover", "06:30"],
        env={"FILESERVER_DRIVE_EMULATOR_LIMITS__STORAGE_BYTES": "777"},
    )
    process.start()
    yield process
    process.stop()


async def test_options_and_environment_set_the_knobs(tuned: Emulator) -> None:
    admin = tuned.admin()
    try:
        account = await admin.create_account(requests_per_minute=9)
        limits = (await admin.account(account.id))["limits"]
        clock = await admin.clock()
    finally:
        await admin.aclose()
    assert limits == {
        "download_bytes_per_day": 5000,
        "upload_bytes_per_day": 750 * 10**9,
        "storage_bytes": 777,
        "requests_per_minute": 9,
        "file_download_bytes_per_day": 0,
    }
    assert clock["next_rollover"].endswith("06:30:00Z")
