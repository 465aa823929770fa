"""The worker's sweep: what a crash or a lost job left behind is finished or removed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, monitoring
from pymongo.asynchronous.database import AsyncDatabase

from services.drive.config import DriveSettings
from services.shared.days import utcnow
from services.uploader import replication
from services.uploader.models import Batch, BatchEntry, UploadSession
from services.uploader.staging import Staging
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


class _Replies(monitoring.CommandListener):
    """What the server answered to each command on ``fs.chunks``: names and documents."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.documents = 0
        self._on_chunks: set[int] = set()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command.get(event.command_name) == "fs.chunks" or (
            event.command_name == "getMore" and event.command.get("collection") == "fs.chunks"
        ):
            self.commands.append(event.command_name)
            self._on_chunks.add(event.request_id)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        if event.request_id in self._on_chunks:
            cursor = event.reply.get("cursor", {})
            self.documents += len(cursor.get("firstBatch", cursor.get("nextBatch", [])))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._on_chunks.discard(event.request_id)


async def _orphan_reads(mongo_url: str, database: str, chunks: int) -> _Replies:
    """Stage one cut-off upload of ``chunks`` chunks; what the sweep's orphan search read."""
    listener = _Replies()
    client: AsyncMongoClient[Any] = AsyncMongoClient(mongo_url, event_listeners=[listener])
    try:
        db = client[database]
        await db["fs.chunks"].delete_many({})
        await db["fs.files"].delete_many({})
        staging = Staging(db, chunk_bytes=1024)
        # What a writer killed midway leaves: its chunks, and never a files document.
        cut_off = ObjectId()
        await db["fs.chunks"].insert_many(
            [{"files_id": cut_off, "n": n, "data": pattern(1024, seed=n)} for n in range(chunks)]
        )
        listener.commands.clear()
        listener.documents = 0
        found = await staging.candidates_for_sweep(timedelta(0))
        read = _Replies()  # what the search alone did
        read.commands, read.documents = list(listener.commands), listener.documents
        assert found == [cut_off]
        await staging.delete(cut_off)
        assert await db["fs.chunks"].count_documents({}) == 0
    finally:
        await client.close()
    return read


async def test_finding_orphans_reads_one_chunk_per_staged_file_whatever_its_size(
    uploader: LiveUploader,
) -> None:
    """The sweep runs every few seconds: its cost must follow the staged files, not their
    bytes (a 1.5 GB file once made it 9× slower: it read every chunk's owner)."""
    settings = uploader.settings
    database = f"{settings.mongo_db}-orphans"  # a database of its own: the counts are exact
    small = await _orphan_reads(settings.mongo_url, database, chunks=2)
    large = await _orphan_reads(settings.mongo_url, database, chunks=300)
    assert small.documents == large.documents == 1, (small.documents, large.documents)
    assert "distinct" not in small.commands + large.commands
    assert small.commands == large.commands == ["find"], large.commands
