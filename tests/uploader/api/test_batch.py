"""All-or-nothing batch upload: every file registered, or none and nothing left in GridFS."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.utils.uploader import ADMIN, LiveUploader, pattern

pytestmark = pytest.mark.integration


async def test_batch_registers_every_file(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    files = [
        ("files", ("a.bin", pattern(300 * 1024, 1), "application/octet-stream")),
        ("files", ("b.txt", b"hello", "text/plain")),
        ("files", ("c.mp4", pattern(600 * 1024, 2), "video/mp4")),
    ]
    response = await uploader.client.post("/files:batch", files=files, headers=ADMIN)
    assert response.status_code == 202, response.text
    got = response.json()["files"]
    assert [(f["name"], f["size"], f["status"]) for f in got] == [
        ("a.bin", 300 * 1024, "replicating"),
        ("b.txt", 5, "replicating"),
        ("c.mp4", 600 * 1024, "replicating"),
    ]
    assert await mongo_db["files"].count_documents({}) == 3
    assert await mongo_db["fs.files"].count_documents({}) == 3
    assert await mongo_db["batches"].count_documents({}) == 0
    listed = (await uploader.client.get("/files", headers=ADMIN)).json()
    assert listed["total"] == 3


@pytest.mark.parametrize(
    ("bad_part", "message"),
    [
        (("files", ("../escape.txt", b"x", "text/plain")), "part 2 ('../escape.txt')"),
        (
            ("files", ("empty.bin", b"", "application/octet-stream")),
            "part 2 ('empty.bin') is empty",
        ),
        (("files", ("x.bin", b"x", "bogus")), "part 2 ('x.bin'): content type"),
    ],
)
async def test_one_invalid_part_registers_nothing(
    uploader: LiveUploader,
    mongo_db: AsyncDatabase[Any],
    bad_part: tuple[str, tuple[str, bytes, str]],
    message: str,
) -> None:
    files = [
        ("files", ("good-1.bin", pattern(700 * 1024, 3), "application/octet-stream")),
        bad_part,
        ("files", ("good-2.bin", pattern(1000, 4), "application/octet-stream")),
    ]
    response = await uploader.client.post("/files:batch", files=files, headers=ADMIN)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await mongo_db["files"].count_documents({}) == 0
    assert await mongo_db["fs.files"].count_documents({}) == 0
    assert await mongo_db["fs.chunks"].count_documents({}) == 0
    assert await mongo_db["batches"].count_documents({}) == 0


async def test_a_part_over_the_limit_fails_the_batch(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    uploader.settings.max_upload_bytes = 512 * 1024
    files = [
        ("files", ("ok.bin", pattern(1000), "application/octet-stream")),
        ("files", ("big.bin", pattern(600 * 1024), "application/octet-stream")),
    ]
    response = await uploader.client.post("/files:batch", files=files, headers=ADMIN)
    assert response.status_code == 413
    assert "part 2 ('big.bin') is larger than the limit" in response.json()["detail"]
    assert await mongo_db["fs.chunks"].count_documents({}) == 0
    assert await mongo_db["files"].count_documents({}) == 0


async def test_not_multipart_is_refused(uploader: LiveUploader) -> None:
    response = await uploader.client.post(
        "/files:batch", content=b"x", headers={**ADMIN, "Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert "multipart/form-data" in response.json()["detail"]
    nothing = await uploader.client.post(
        "/files:batch",
        content=b"--b--\r\n",
        headers={**ADMIN, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert nothing.status_code == 422
    assert nothing.json()["detail"] == "the batch holds no file part"
