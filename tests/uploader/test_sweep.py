"""The worker's sweep: what a crash or a lost job left behind is finished or removed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.drive.config import DriveSettings
from services.shared.days import utcnow
from services.uploader import replication
from services.uploader.models import Batch, BatchEntry, UploadSession
from services.uploader.vault import Vault
from tests.utils.uploader import LiveUploader, pattern

pytestmark = pytest.mark.integration


def replicator(uploader: LiveUploader) -> replication.Replicator:
    state = uploader.app.state
    return replication.Replicator(
        settings=uploader.settings,
        drive=DriveSettings(root_url="http://127.0.0.1:9/"),
        vault=Vault(uploader.settings.credentials_key.get_secret_value()),
        staging=state.staging,
        jobs=state.jobs,
    )


async def test_sweep_finishes_batches_and_removes_orphans(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    staging = uploader.app.state.staging
    kept = await uploader.upload(pattern(1000), name="kept.bin")

    orphan = staging.open_writer(file_id="never-registered", filename="orphan.bin")
    await orphan.write(pattern(300 * 1024))
    await orphan.close()  # staged, then the API died before recording the file

    cut_off = staging.open_writer(file_id="cut-off", filename="cut.bin")
    await cut_off.write(pattern(5 * 1024 * 1024))  # chunks without a files document

    in_batch = staging.open_writer(file_id="from-batch", filename="b.bin")
    await in_batch.write(b"batch bytes")
    await in_batch.close()
    entry = BatchEntry(
        id="from-batch",
        name="b.bin",
        size=11,
        content_type="text/plain",
        sha256="0" * 64,
        staging_id=in_batch.staging_id,
    )
    await Batch(files=[entry], created_at=utcnow() - timedelta(minutes=5)).insert()

    expired = UploadSession(
        name="gone.bin",
        content_type="application/octet-stream",
        size=10 * 1024 * 1024,
        chunk_bytes=staging.chunk_bytes,
        expires_at=utcnow() - timedelta(seconds=1),
    )
    await expired.insert()
    await staging.write_range(
        _one(pattern(staging.chunk_bytes)),
        staging_id=expired.staging_id,
        start=0,
        total=expired.size,
        stored=_ignore,
    )

    await replication.sweep(replicator(uploader), orphans_after=timedelta(0))

    assert (await uploader.file("from-batch"))["status"] == "replicating"  # rolled forward
    assert await mongo_db["batches"].count_documents({}) == 0
    assert await mongo_db["upload_sessions"].count_documents({}) == 0
    stored = await mongo_db["files"].find_one({"_id": kept["id"]})
    assert stored is not None
    remaining = {doc["_id"] async for doc in mongo_db["fs.files"].find({})}
    assert remaining == {stored["staging_id"], in_batch.staging_id}
    owners = set(await mongo_db["fs.chunks"].distinct("files_id"))
    assert owners == {stored["staging_id"], in_batch.staging_id}


async def _one(data: bytes) -> Any:
    yield data


async def _ignore(offset: int) -> None:
    del offset
