"""GridFS staging: where a file's bytes wait, streamed in and out chunk by chunk.

Plain uploads go through PyMongo's GridFS upload stream while the size and sha256 are computed
on the way; memory stays at one chunk plus the driver's insert batch, whatever the file size.
Resumable sessions cannot keep an upload stream open between requests, so their ranges are
written as GridFS chunks directly (``n`` = offset / chunk size, upserted, so a resent range
overwrites itself) and the ``fs.files`` document is written when the session is sealed. Every
staged file carries ``metadata.file_id`` so that orphans (a crash between staging and
recording) can be recognised and swept.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bson import Binary, ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.shared.days import utcnow

READ_BATCH_BYTES = 8 * 1024 * 1024  # per cursor batch; FerretDB sends whatever it is asked
WRITE_BATCH_BYTES = 4 * 1024 * 1024  # chunks per insert: fewer round trips, bounded memory


class StagingError(Exception):
    """The bytes offered cannot be staged; the message is safe to show the client."""


class TooLarge(StagingError):
    """More bytes than the configured limit (HTTP 413)."""


class EmptyUpload(StagingError):
    """No bytes at all."""


class RangeError(StagingError):
    """A resumable range that does not fit the session."""


@dataclass(frozen=True)
class Staged:
    """What a finished staging wrote."""

    staging_id: ObjectId
    size: int
    sha256: str


class Staging:
    """The GridFS bucket that holds staged bytes (``fs.files`` and ``fs.chunks``, in GridFS's
    layout, written and read here in batches a MongoDB-wire server of any kind can take)."""

    def __init__(self, database: AsyncDatabase[Any], *, chunk_bytes: int) -> None:
        self.chunk_bytes = chunk_bytes
        self._files = database["fs.files"]
        self._chunks = database["fs.chunks"]

    async def ensure_indexes(self) -> None:
        """The indexes GridFS readers rely on (sessions write chunks without the driver)."""
        await self._chunks.create_index([("files_id", ASCENDING), ("n", ASCENDING)], unique=True)
        await self._files.create_index([("filename", ASCENDING), ("uploadDate", ASCENDING)])

    def open_writer(self, *, file_id: str, filename: str) -> ChunkWriter:
        """A writer for one new staged file (see :class:`ChunkWriter`)."""
        return ChunkWriter(self, file_id=file_id, filename=filename)

    async def stage(
        self, source: AsyncIterator[bytes], *, file_id: str, filename: str, limit: int
    ) -> Staged:
        """Stream ``source`` into a new GridFS file; on any failure nothing is left behind."""
        digest = hashlib.sha256()
        writer = self.open_writer(file_id=file_id, filename=filename)
        try:
            async for block in rechunk(source, self.chunk_bytes):
                if writer.size + len(block) > limit:
                    raise TooLarge(f"the file is larger than the limit of {limit} bytes")
                digest.update(block)
                await writer.write(block)
            if writer.size == 0:
                raise EmptyUpload("the file is empty")
            await writer.close()
        except BaseException:
            await writer.abort()
            raise
        return Staged(staging_id=writer.staging_id, size=writer.size, sha256=digest.hexdigest())

    async def write_range(
        self,
        source: AsyncIterator[bytes],
        *,
        staging_id: ObjectId,
        start: int,
        total: int,
        stored: Callable[[int], Awaitable[None]],
    ) -> int:
        """Write the bytes of a range starting at ``start``; the offset reached.

        ``stored(offset)`` is awaited after every chunk written, so a range cut short (dropped
        connection, crash) still records how far it got. Only whole chunks are kept, except
        the file's final one, so that offset is always chunk-aligned.
        """
        if start % self.chunk_bytes:
            raise RangeError(f"a range must start at a multiple of {self.chunk_bytes}")
        offset = start
        pending = bytearray()
        async for block in source:
            pending += block
            if offset + len(pending) > total:
                raise RangeError(f"the range goes past the declared size of {total} bytes")
            while len(pending) >= self.chunk_bytes:
                await self._put_chunk(staging_id, offset, bytes(pending[: self.chunk_bytes]))
                del pending[: self.chunk_bytes]
                offset += self.chunk_bytes
                await stored(offset)
        if pending and offset + len(pending) == total:
            await self._put_chunk(staging_id, offset, bytes(pending))
            offset = total
            await stored(offset)
        return offset

    async def _put_chunk(self, staging_id: ObjectId, offset: int, data: bytes) -> None:
        n = offset // self.chunk_bytes
        await self._chunks.replace_one(
            {"files_id": staging_id, "n": n},
            {"files_id": staging_id, "n": n, "data": Binary(data)},
            upsert=True,
        )

    async def seal(self, *, staging_id: ObjectId, size: int, file_id: str, filename: str) -> str:
        """Make a session's chunks a GridFS file; its sha256 (read back once, chunk by chunk)."""
        digest = hashlib.sha256()
        length = 0
        cursor = self._chunks.find(
            {"files_id": staging_id},
            sort=[("n", ASCENDING)],
            batch_size=self._batch(self.chunk_bytes),
        )
        async for chunk in cursor:
            if chunk["n"] * self.chunk_bytes != length:
                raise RangeError(f"chunk {chunk['n']} is missing or out of place")
            digest.update(chunk["data"])
            length += len(chunk["data"])
        if length != size:
            raise RangeError(f"received {length} bytes of {size}")
        await self._write_files_doc(staging_id, size=size, file_id=file_id, filename=filename)
        return digest.hexdigest()

    async def _write_files_doc(
        self, staging_id: ObjectId, *, size: int, file_id: str, filename: str
    ) -> None:
        """The ``fs.files`` document, written last (as GridFS does): it makes the file whole."""
        await self._files.replace_one(
            {"_id": staging_id},
            {
                "_id": staging_id,
                "length": size,
                "chunkSize": self.chunk_bytes,
                "uploadDate": utcnow(),
                "filename": filename,
                "metadata": {"file_id": file_id},
            },
            upsert=True,
        )

    async def read(self, staging_id: ObjectId, *, start: int = 0) -> AsyncIterator[bytes]:
        """The staged bytes from ``start``, one GridFS chunk at a time.

        Not PyMongo's GridOut: its chunk cursor has no batch size, and FerretDB then answers
        with batches of tens of MB (beyond the driver's maximum message size).
        """
        doc = await self._files.find_one({"_id": staging_id})
        if doc is None:
            raise StagingError(f"staged file {staging_id} does not exist")
        chunk, length = int(doc["chunkSize"]), int(doc["length"])
        expected = start // chunk
        skip = start - expected * chunk
        cursor = self._chunks.find(
            {"files_id": staging_id, "n": {"$gte": expected}},
            sort=[("n", ASCENDING)],
            batch_size=self._batch(chunk),
        )
        sent = expected * chunk
        async for found in cursor:
            if found["n"] != expected:
                raise StagingError(f"chunk {expected} of staged file {staging_id} is missing")
            data = bytes(found["data"])
            sent += len(data)
            yield data[skip:] if skip else data
            skip = 0
            expected += 1
        if sent != length:
            raise StagingError(f"staged file {staging_id} holds {sent} of {length} bytes")

    @staticmethod
    def _batch(chunk: int) -> int:
        return max(1, READ_BATCH_BYTES // chunk)

    async def exists(self, staging_id: ObjectId) -> bool:
        return await self._files.count_documents({"_id": staging_id}, limit=1) > 0

    async def delete(self, staging_id: ObjectId) -> None:
        """Remove a staged file and its chunks; deleting what is gone already is fine.

        The files document first, then every chunk but the first, then the first: whatever a
        crash leaves midway still has its chunk 0, by which the sweep finds orphans.
        """
        await self._files.delete_one({"_id": staging_id})
        await self._chunks.delete_many({"files_id": staging_id, "n": {"$gt": 0}})
        await self._chunks.delete_many({"files_id": staging_id})

    async def candidates_for_sweep(self, older_than: timedelta) -> list[ObjectId]:
        """Staged files and chunk groups older than ``older_than``, to check for orphans.

        Chunks without a files document are uploads cut off by a crash (chunks are written
        first, the files document last) or resumable sessions; their GridFS id dates their
        start. A group is found by its chunk 0, which is written first and deleted last: one
        document per staged file whatever its size (an equality on ``n`` that FerretDB pushes
        down to its SQL backend), not every chunk of every staged byte.
        """
        cutoff = utcnow() - older_than
        found: list[ObjectId] = [
            doc["_id"]
            async for doc in self._files.find({"uploadDate": {"$lt": cutoff}}, projection={})
        ]
        listed = set(found)
        # Ids made in cutoff's second or before (an id's time has whole seconds).
        bound = ObjectId.from_datetime(cutoff + timedelta(seconds=1))
        firsts = self._chunks.find(
            {"n": 0, "files_id": {"$lt": bound}}, projection={"files_id": 1, "_id": 0}
        )
        async for chunk in firsts:
            owner = chunk["files_id"]
            if isinstance(owner, ObjectId) and owner not in listed and not await self.exists(owner):
                found.append(owner)
        return found


class ChunkWriter:
    """Writes one staged file chunk by chunk, a few chunks per insert.

    Not PyMongo's GridIn: it buffers up to 32 MiB of chunk documents before each insert, and
    with the insert's encoding that doubled the Uploader's memory during an upload. Here at
    most :data:`WRITE_BATCH_BYTES` wait. Chunks first, ``fs.files`` last: a writer that dies
    midway leaves chunks without a file, which the worker's sweep removes.
    """

    def __init__(self, staging: Staging, *, file_id: str, filename: str) -> None:
        self.staging = staging
        self.staging_id = ObjectId()
        self.file_id = file_id
        self.filename = filename
        self.size = 0
        self._n = 0
        self._pending: list[dict[str, Any]] = []
        self._pending_bytes = 0
        self._tail = bytearray()

    async def write(self, data: bytes) -> None:
        """Append bytes (any length)."""
        chunk = self.staging.chunk_bytes
        self.size += len(data)
        if not self._tail and len(data) == chunk:
            await self._add(data)
            return
        self._tail += data
        while len(self._tail) >= chunk:
            await self._add(bytes(self._tail[:chunk]))
            del self._tail[:chunk]

    async def _add(self, data: bytes) -> None:
        self._pending.append({"files_id": self.staging_id, "n": self._n, "data": Binary(data)})
        self._n += 1
        self._pending_bytes += len(data)
        if self._pending_bytes >= WRITE_BATCH_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            await self.staging._chunks.insert_many(self._pending, ordered=True)
            self._pending, self._pending_bytes = [], 0

    async def close(self) -> None:
        """Write what is left and the ``fs.files`` document."""
        if self._tail:
            await self._add(bytes(self._tail))
            self._tail.clear()
        await self._flush()
        await self.staging._write_files_doc(
            self.staging_id, size=self.size, file_id=self.file_id, filename=self.filename
        )

    async def abort(self) -> None:
        """Remove every chunk written so far."""
        self._pending, self._tail = [], bytearray()
        await self.staging.delete(self.staging_id)


async def rechunk(source: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup arbitrary pieces into blocks of exactly ``size`` bytes (the last may be short)."""
    pending = bytearray()
    async for piece in source:
        pending += piece
        while len(pending) >= size:
            yield bytes(pending[:size])
            del pending[:size]
    if pending:
        yield bytes(pending)
