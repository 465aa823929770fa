"""The async-to-thread media bridge: in-order chunks, resumes inside a chunk, size checks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

from services.drive.errors import UploadSourceError
from services.drive.media import AsyncStreamUpload

pytestmark = pytest.mark.unit

CHUNK = 256


async def pieces(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def media_for(data: bytes, size: int | None = None) -> AsyncStreamUpload:
    return AsyncStreamUpload(
        pieces(data, 77),
        size=len(data) if size is None else size,
        mimetype="application/octet-stream",
        chunksize=CHUNK,
        loop=asyncio.get_running_loop(),
        timeout=5,
    )


async def read(media: AsyncStreamUpload, begin: int) -> bytes:
    return await asyncio.to_thread(media.getbytes, begin, CHUNK)


async def test_chunks_come_in_order_and_end_short() -> None:
    data = os.urandom(1000)
    media = media_for(data)
    got = [await read(media, begin) for begin in range(0, 1000, CHUNK)]
    assert b"".join(got) == data
    assert [len(chunk) for chunk in got] == [256, 256, 256, 232]
    assert media.offset == 768


async def test_resume_inside_the_chunk_drive_did_not_acknowledge() -> None:
    data = os.urandom(1000)
    media = media_for(data)
    await read(media, 0)
    await read(media, 256)  # Drive acknowledged 0..255, then the connection dropped
    assert await read(media, 300) == data[300:556]  # Drive says it holds 0..299
    assert media.offset == 300
    assert await read(media, 556) == data[556:812]


async def test_acknowledged_bytes_are_gone() -> None:
    media = media_for(os.urandom(1000))
    await read(media, 0)
    await read(media, 256)
    with pytest.raises(UploadSourceError, match="resume at byte 100"):
        await read(media, 100)


async def test_a_source_shorter_than_declared_fails() -> None:
    media = media_for(os.urandom(900), size=1000)
    for begin in range(0, 768, CHUNK):
        await read(media, begin)
    with pytest.raises(UploadSourceError, match="ended at byte 900 of 1000"):
        await read(media, 768)


async def test_a_source_longer_than_declared_fails_before_the_last_chunk() -> None:
    media = media_for(os.urandom(1000), size=900)
    for begin in range(0, 768, CHUNK):
        await read(media, begin)
    with pytest.raises(UploadSourceError, match="more than the declared 900"):
        await read(media, 768)


async def test_never_on_the_event_loop() -> None:
    media = media_for(os.urandom(10))
    with pytest.raises(RuntimeError, match="worker thread"):
        media.getbytes(0, CHUNK)
