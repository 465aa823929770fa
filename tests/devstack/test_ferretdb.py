"""The Mongo-wire server (FerretDB): what Beanie and GridFS need from it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from beanie import Document, Indexed, init_beanie
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


class Account(Document):
    email: Indexed(str, unique=True)  # type: ignore[valid-type]
    budget: int = 0


async def test_beanie_crud_with_unique_index(mongo_db: AsyncDatabase[dict[str, object]]) -> None:
    await init_beanie(database=mongo_db, document_models=[Account])
    account = await Account(email="a@example.com", budget=1).insert()
    account.budget = 100
    await account.save()

    found = await Account.find_one(Account.email == "a@example.com")
    assert found is not None
    assert found.budget == 100
    assert found.id == account.id
    await Account.find_one(Account.email == "a@example.com").update({"$inc": {"budget": 5}})
    refreshed = await Account.get(account.id)
    assert refreshed is not None
    assert refreshed.budget == 105

    with pytest.raises(DuplicateKeyError):
        await Account(email="a@example.com").insert()
    assert await Account.count() == 1


def _chunks(total: int, size: int = 1 << 20) -> Iterator[bytes]:
    """Deterministic, incompressible-looking bytes, generated instead of held in memory."""
    counter = 0
    sent = 0
    while sent < total:
        block = b"".join(
            hashlib.sha256(f"{counter}:{i}".encode()).digest() for i in range(size // 32)
        )[: total - sent]
        counter += 1
        sent += len(block)
        yield block


async def test_gridfs_50mb_stream_round_trip(mongo_db: AsyncDatabase[dict[str, object]]) -> None:
    total = 50 * 1024 * 1024
    bucket = AsyncGridFSBucket(mongo_db)
    sent = hashlib.sha256()
    async with bucket.open_upload_stream("big.bin", chunk_size_bytes=255 * 1024) as upload:
        for block in _chunks(total):
            sent.update(block)
            await upload.write(block)
    file_id = upload._id

    download = await bucket.open_download_stream(file_id)
    assert download.length == total
    expected = _Reader(_chunks(total))
    received = hashlib.sha256()
    while chunk := await download.readchunk():
        assert chunk == expected.take(len(chunk)), f"bytes differ near offset {download.tell()}"
        received.update(chunk)
    assert received.hexdigest() == sent.hexdigest()

    await bucket.delete(file_id)
    with pytest.raises(NoFile):
        await bucket.open_download_stream(file_id)


class _Reader:
    """Reads an iterator of blocks as a byte stream of arbitrary-sized pieces."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        self.blocks = blocks
        self.buffer = b""

    def take(self, n: int) -> bytes:
        while len(self.buffer) < n:
            self.buffer += next(self.blocks, b"") or b""
            if not self.buffer:
                break
        piece, self.buffer = self.buffer[:n], self.buffer[n:]
        return piece
