"""Request size limits and hostile file names answer a clear 4xx and leave nothing behind.

An Uploader with a 64 KiB upload limit: a body above it is 413 whether it declares its length
or streams chunked, through every upload path (single, resumable, batch part); names with
path separators, traversal, NUL or other control characters, or over 255 characters are 422
on every path that takes a name, with a message that names the rule; an upload whose body
stalls is 408.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.utils.uploader import ADMIN, LiveUploader, live_uploader, pattern, uploader_settings

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024
IDLE_SECONDS = 0.5


@pytest.fixture
async def small_uploader(
    mongo_url: str, mongo_db: AsyncDatabase[Any], redis_url: str
) -> AsyncIterator[LiveUploader]:
    settings = uploader_settings(
        mongo_url,
        mongo_db.name,
        redis_url,
        max_upload_bytes=LIMIT,
        body_idle_timeout_seconds=IDLE_SECONDS,
    )
    async with live_uploader(settings) as live:
        yield live


async def nothing_left(uploader: LiveUploader) -> None:
    database = uploader.app.state.mongo[uploader.settings.mongo_db]
    assert await database["fs.chunks"].count_documents({}) == 0
    assert (await uploader.client.get("/files", headers=ADMIN)).json()["total"] == 0


async def chunked(data: bytes, piece: int = 8192) -> AsyncIterator[bytes]:
    for start in range(0, len(data), piece):
        yield data[start : start + piece]


async def test_an_upload_that_stalls_is_408_and_leaves_nothing_staged(
    small_uploader: LiveUploader,
) -> None:
    async def stalling() -> AsyncIterator[bytes]:
        yield pattern(8192)
        yield pattern(8192)
        await asyncio.sleep(IDLE_SECONDS * 4)  # the client stops sending
        yield pattern(8192)

    answer = await small_uploader.client.post(
        "/files", params={"name": "slow.bin"}, content=stalling(), headers=ADMIN
    )
    assert answer.status_code == 408, answer.text
    assert "request body" in answer.json()["detail"]
    await nothing_left(small_uploader)


async def test_single_upload_over_the_limit_is_413(small_uploader: LiveUploader) -> None:
    client = small_uploader.client
    data = pattern(LIMIT + 1)
    declared = await client.post("/files", params={"name": "big.bin"}, content=data, headers=ADMIN)
    assert declared.status_code == 413, declared.text
    assert str(LIMIT) in declared.json()["detail"]
    streamed = await client.post(
        "/files", params={"name": "big.bin"}, content=chunked(data), headers=ADMIN
    )
    assert streamed.status_code == 413, streamed.text
    await nothing_left(small_uploader)
    exact = await client.post(
        "/files", params={"name": "ok.bin"}, content=pattern(LIMIT), headers=ADMIN
    )
    assert exact.status_code == 202, exact.text


async def test_resumable_and_batch_over_the_limit_are_413(small_uploader: LiveUploader) -> None:
    client = small_uploader.client
    session = await client.post(
        "/uploads", json={"name": "big.bin", "size": LIMIT + 1}, headers=ADMIN
    )
    assert session.status_code == 413, session.text
    body = (
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.bin"\r\n\r\n'
        + pattern(LIMIT + 1)
        + b"\r\n--b--\r\n"
    )
    batch = await client.post(
        "/files:batch",
        content=chunked(body),
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert batch.status_code == 413, batch.text
    await nothing_left(small_uploader)


BAD_NAMES = {
    "traversal": "../../etc/passwd",
    "separator": "dir/file.bin",
    "backslash": "..\\windows\\system.ini",
    "dot": ".",
    "dotdot": "..",
    "nul": "file\x00.bin",
    "newline": "file\n.bin",
    "escape": "\x1b[31mred.bin",
    "bidi-override": "invoice\u202etxt.exe",
    "leading-space": " file.bin",
    "too-long": "a" * 256,
    "empty": "",
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_bad_names_are_422_everywhere(small_uploader: LiveUploader, name: str) -> None:
    client = small_uploader.client
    single = await client.post("/files", params={"name": name}, content=b"abc", headers=ADMIN)
    assert single.status_code == 422, single.text
    assert "name" in single.json()["detail"]
    session = await client.post("/uploads", json={"name": name, "size": 3}, headers=ADMIN)
    assert session.status_code == 422, session.text
    disposition = 'form-data; name="files"; filename="' + name.replace('"', "") + '"'
    batch = await client.post(
        "/files:batch",
        content=b"--b\r\nContent-Disposition: "
        + disposition.encode()
        + b"\r\n\r\nabc\r\n--b--\r\n",
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert batch.status_code == 422, batch.text
    await nothing_left(small_uploader)
    good = await client.post("/files", params={"name": "good.bin"}, content=b"abc", headers=ADMIN)
    assert good.status_code == 202, good.text
    renamed = await client.patch(f"/files/{good.json()['id']}", json={"name": name}, headers=ADMIN)
    assert renamed.status_code == 422, renamed.text
    kept = await client.get(f"/files/{good.json()['id']}", headers=ADMIN)
    assert kept.json()["name"] == "good.bin"
