"""A 300 MB resumable upload, cut midway, resumes from the offset Drive reports.

The emulator drops the connection 3 MiB + 12345 bytes into the 19th 8 MiB chunk and keeps what
arrived, so Drive's offset falls inside the chunk the client was sending. The client must ask
for it (empty PUT, ``Content-Range: bytes */N``), continue from exactly there with the bytes it
still holds, and never re-send the file from the start. The bytes are generated on the fly;
the process's memory stays within a few chunks.
"""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from services.drive.config import DriveSettings
from tests.drive.conftest import MakeClient
from tests.utils.drive import EmulatorAdmin, PatternSource
from tests.utils.memory import RssSampler

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SIZE = 300 * MiB
CHUNK = 8 * MiB
CHUNKS_BEFORE_DROP = 18
DROP_AFTER = 3 * MiB + 12345
DROP_OFFSET = CHUNKS_BEFORE_DROP * CHUNK + DROP_AFTER


async def test_interrupted_300mb_upload_resumes_from_drives_offset(
    make_client: MakeClient,
    emulator_admin: EmulatorAdmin,
    drive_settings: DriveSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = drive_settings.model_copy(update={"chunk_size": CHUNK})
    account, client = await make_client(settings=settings)
    await emulator_admin.set_faults(
        {
            "kind": "drop",
            "account": account.id,
            "method": "PUT",
            "path_prefix": "/upload/",
            "skip": CHUNKS_BEFORE_DROP,
            "count": 1,
            "after_bytes": DROP_AFTER,
        }
    )
    resumes = "fileserver_drive_upload_resumes_total"
    resumes_before = REGISTRY.get_sample_value(resumes, {"account": account.id}) or 0
    source = PatternSource(SIZE)
    caplog.set_level(logging.INFO, logger="services.drive.client")

    with RssSampler() as memory:
        uploaded = await client.upload(source.stream(), "big.bin", SIZE)

    assert uploaded.size == SIZE
    assert uploaded.md5 == source.md5.hexdigest()
    assert (await emulator_admin.faults())["rules"][0]["fired"] == 1
    assert REGISTRY.get_sample_value(resumes, {"account": account.id}) == resumes_before + 1
    assert f"resumed at byte {DROP_OFFSET} of {SIZE}, Drive's offset" in caplog.text
    received = await emulator_admin.metric(
        "drive_emulator_bytes_received_total", account=account.id
    )
    assert SIZE <= received <= SIZE + CHUNK  # at most the cut chunk again, never the whole file
    assert memory.growth < 6 * CHUNK, f"RSS grew {memory.growth / MiB:.0f} MiB"

    around_cut = await client.read(uploaded.id, DROP_OFFSET - 100, DROP_OFFSET + 100)
    assert around_cut == source.expected(DROP_OFFSET - 100, DROP_OFFSET + 100)
