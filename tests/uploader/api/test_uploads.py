"""Resumable client uploads: ranges, a dropped connection, resume from the stored offset."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.utils.uploader import ADMIN, LiveUploader, pattern

pytestmark = pytest.mark.integration

CHUNK = 256 * 1024


async def open_session(uploader: LiveUploader, size: int, **extra: Any) -> dict[str, Any]:
    response = await uploader.client.post(
        "/uploads", json={"name": "movie.mkv", "size": size, **extra}, headers=ADMIN
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/uploads/{response.json()['id']}"
    session: dict[str, Any] = response.json()
    assert session["offset"] == 0
    assert session["chunk_bytes"] == CHUNK
    return session


async def put(
    uploader: LiveUploader,
    session_id: str,
    data: bytes | AsyncIterator[bytes],
    first: int,
    last: int,
    size: int,
) -> httpx.Response:
    return await uploader.client.put(
        f"/uploads/{session_id}",
        content=data,
        headers={**ADMIN, "Content-Range": f"bytes {first}-{last}/{size}"},
    )


async def test_ranges_then_finish(uploader: LiveUploader, mongo_db: AsyncDatabase[Any]) -> None:
    data = pattern(5 * CHUNK + 1000)
    size = len(data)
    session = await open_session(
        uploader, size, content_type="video/x-matroska", sha256=hashlib.sha256(data).hexdigest()
    )
    sid = session["id"]
    first = await put(uploader, sid, data[: 2 * CHUNK], 0, 2 * CHUNK - 1, size)
    assert first.status_code == 200
    assert first.json()["offset"] == 2 * CHUNK

    early = await uploader.client.post(f"/uploads/{sid}:finish", headers=ADMIN)
    assert early.status_code == 409
    assert early.json()["offset"] == 2 * CHUNK

    wrong_start = await put(uploader, sid, data[:CHUNK], 0, CHUNK - 1, size)
    assert wrong_start.status_code == 409
    assert wrong_start.json() == {
        "detail": f"the next range must start at byte {2 * CHUNK}",
        "offset": 2 * CHUNK,
    }

    rest = await put(uploader, sid, data[2 * CHUNK :], 2 * CHUNK, size - 1, size)
    assert rest.status_code == 200
    assert rest.json()["offset"] == size

    finished = await uploader.client.post(f"/uploads/{sid}:finish", headers=ADMIN)
    assert finished.status_code == 202, finished.text
    file = finished.json()
    assert file["id"] == sid
    assert file["status"] == "replicating"
    assert file["sha256"] == hashlib.sha256(data).hexdigest()
    assert file["size"] == size
    assert file["content_type"] == "video/x-matroska"

    again = await uploader.client.post(f"/uploads/{sid}:finish", headers=ADMIN)
    assert again.status_code == 202
    assert again.json()["id"] == sid
    assert (await uploader.client.get(f"/uploads/{sid}", headers=ADMIN)).status_code == 404
    assert await mongo_db["files"].count_documents({}) == 1
    staged = await mongo_db["fs.files"].find_one({})
    assert staged is not None
    assert staged["length"] == size
    chunks = [c["data"] async for c in mongo_db["fs.chunks"].find({}).sort("n")]
    assert b"".join(chunks) == data


async def test_dropped_connection_keeps_whole_chunks_and_resumes(uploader: LiveUploader) -> None:
    data = pattern(4 * CHUNK)
    size = len(data)
    sid = (await open_session(uploader, size))["id"]

    class Dropped(Exception):
        pass

    async def cut_off() -> AsyncIterator[bytes]:
        yield data[: CHUNK + CHUNK // 2]  # one and a half chunks, then the client dies
        raise Dropped

    with pytest.raises(Dropped):
        await put(uploader, sid, cut_off(), 0, size - 1, size)

    status = await uploader.client.get(f"/uploads/{sid}", headers=ADMIN)
    assert status.json()["offset"] == CHUNK  # the whole chunk survived, the half did not

    resumed = await put(uploader, sid, data[CHUNK:], CHUNK, size - 1, size)
    assert resumed.status_code == 200
    assert resumed.json()["offset"] == size
    finished = await uploader.client.post(f"/uploads/{sid}:finish", headers=ADMIN)
    assert finished.status_code == 202
    assert finished.json()["sha256"] == hashlib.sha256(data).hexdigest()


async def test_bad_ranges(uploader: LiveUploader) -> None:
    size = 3 * CHUNK
    sid = (await open_session(uploader, size))["id"]
    no_header = await uploader.client.put(f"/uploads/{sid}", content=b"x", headers=ADMIN)
    assert no_header.status_code == 422
    assert "Content-Range" in no_header.json()["detail"]
    wrong_total = await put(uploader, sid, b"x" * CHUNK, 0, CHUNK - 1, size + 1)
    assert wrong_total.status_code == 422
    too_long = await put(uploader, sid, b"x" * (CHUNK + 1), 0, CHUNK - 1, size)
    assert too_long.status_code == 422
    assert "longer than" in too_long.json()["detail"]
    assert (await uploader.client.get(f"/uploads/{sid}", headers=ADMIN)).json()["offset"] == 0


async def test_sha256_mismatch_discards_the_upload(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    data = pattern(CHUNK)
    sid = (await open_session(uploader, len(data), sha256="f" * 64))["id"]
    assert (await put(uploader, sid, data, 0, len(data) - 1, len(data))).status_code == 200
    finished = await uploader.client.post(f"/uploads/{sid}:finish", headers=ADMIN)
    assert finished.status_code == 422
    assert "sha256 mismatch" in finished.json()["detail"]
    assert await mongo_db["files"].count_documents({}) == 0
    assert await mongo_db["fs.chunks"].count_documents({}) == 0


async def test_abort_removes_received_bytes(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    sid = (await open_session(uploader, 2 * CHUNK))["id"]
    await put(uploader, sid, pattern(CHUNK), 0, CHUNK - 1, 2 * CHUNK)
    assert await mongo_db["fs.chunks"].count_documents({}) == 1
    assert (await uploader.client.delete(f"/uploads/{sid}", headers=ADMIN)).status_code == 204
    assert await mongo_db["fs.chunks"].count_documents({}) == 0
    assert (await uploader.client.get(f"/uploads/{sid}", headers=ADMIN)).status_code == 404


async def test_session_over_the_limit_is_413(uploader: LiveUploader) -> None:
    response = await uploader.client.post(
        "/uploads", json={"name": "huge", "size": 10**15}, headers=ADMIN
    )
    assert response.status_code == 413
