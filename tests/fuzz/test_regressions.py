"""Regression tests of the bugs the fuzzing found (docs/security.md, "Fuzzing")."""

from __future__ import annotations

from typing import Any

import pytest

from services.stats.main import create_app as create_stats
from tests.fuzz.conftest import LiveApp
from tests.utils.downloader import ADMIN as DOWNLOADER_ADMIN
from tests.utils.downloader import LiveDownloader, stats_settings
from tests.utils.drive import ADMIN_TOKEN as EMULATOR_ADMIN_TOKEN
from tests.utils.uploader import ADMIN, LiveUploader

pytestmark = pytest.mark.integration

BATCH = {**ADMIN, "Content-Type": "multipart/form-data; boundary=b"}


def part(disposition: bytes, data: bytes = b"abc") -> bytes:
    return b"--b\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + data + b"\r\n"


async def staged_chunks(uploader: LiveUploader) -> int:
    database = uploader.app.state.mongo[uploader.settings.mongo_db]
    count: int = await database["fs.chunks"].count_documents({})
    return count


async def test_batch_keeps_non_latin1_and_accented_names(uploader: LiveUploader) -> None:
    """A UTF-8 filename outside Latin-1 was a 500; an accented one came back as U+FFFD."""
    names = ["日本語 ✓.txt", "café.bin", "plain.txt"]
    body = b"".join(
        part(b'form-data; name="files"; filename="' + name.encode() + b'"') for name in names
    )
    answer = await uploader.client.post("/files:batch", content=body + b"--b--\r\n", headers=BATCH)
    assert answer.status_code == 202, answer.text
    assert sorted(f["name"] for f in answer.json()["files"]) == sorted(names)


@pytest.mark.parametrize(
    "body",
    [
        # a CR inside a header line: python-multipart's MultipartParseError was a 500
        b'--b\r\nContent-Disposition: form-data; name="files"; filename="a"\rX\r\n'
        b"\r\nabc\r\n--b--\r\n",
        # a header name with a character no header may hold
        b'--b\r\nContent[Disposition: form-data; name="files"; filename="a"\r\n'
        b"\r\nabc\r\n--b--\r\n",
        # a filename that is not UTF-8
        part(b'form-data; name="files"; filename="\xff\xfe.bin"') + b"--b--\r\n",
    ],
    ids=["cr-in-header", "bad-header-name", "filename-not-utf8"],
)
async def test_malformed_batch_is_422_and_stages_nothing(
    uploader: LiveUploader, body: bytes
) -> None:
    answer = await uploader.client.post("/files:batch", content=body, headers=BATCH)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"]
    listing = await uploader.client.get("/files", headers=ADMIN)
    assert listing.json()["total"] == 0
    assert await staged_chunks(uploader) == 0


async def test_uploader_documents_its_422_body(uploader: LiveUploader) -> None:
    """The OpenAPI schema described FastAPI's 422 (``detail`` a list), not the app's."""
    spec = (await uploader.client.get("/openapi.json")).json()
    answer = await uploader.client.post("/accounts", json={"email": 1}, headers=ADMIN)
    assert answer.status_code == 422
    ref = spec["paths"]["/accounts"]["post"]["responses"]["422"]["content"]["application/json"]
    schema = spec["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert schema["properties"]["detail"]["type"] == "string"
    assert isinstance(answer.json()["detail"], str)
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize("path", ["/reports/files", "/reports/accounts"])
async def test_report_offset_past_64_bits_is_422(any_downloader: LiveDownloader, path: str) -> None:
    """An offset beyond the databases' 64-bit integers was a 500 (SQLite and PostgreSQL)."""
    huge = await any_downloader.client.get(path, params={"offset": 2**80}, headers=DOWNLOADER_ADMIN)
    assert huge.status_code == 422, huge.text
    far = await any_downloader.client.get(path, params={"offset": 10**9}, headers=DOWNLOADER_ADMIN)
    assert far.status_code == 200, far.text
    assert far.json()["items"] == []
    csv = await any_downloader.client.get(path, params={"format": "csv"}, headers=DOWNLOADER_ADMIN)
    spec = (await any_downloader.client.get("/openapi.json")).json()
    documented: dict[str, Any] = spec["paths"][path]["get"]["responses"]["200"]["content"]
    assert csv.headers["content-type"].split(";")[0] in documented


async def test_stats_stops_before_its_worker_started(redis_url: str) -> None:
    """Stopping Stats right after it started raised KeyError in the worker's shutdown."""
    for _ in range(3):
        app = create_stats(stats_settings(redis_url))
        async with app.router.lifespan_context(app):
            pass


async def test_emulator_clock_cannot_overflow(emulator_app: LiveApp) -> None:
    """A huge advance was persisted, then every request (restarts too) failed with a 500."""
    admin = {"Authorization": f"Bearer {EMULATOR_ADMIN_TOKEN}"}
    client = emulator_app.client
    refused = await client.post("/_emulator/clock/advance", json={"seconds": 1e300}, headers=admin)
    assert refused.status_code == 400, refused.text
    answers = []
    for _ in range(100):  # a century at a time, until the clock would pass its last year
        answer = await client.post(
            "/_emulator/clock/advance", json={"seconds": 100 * 365 * 86_400}, headers=admin
        )
        answers.append(answer.status_code)
        if answer.status_code != 200:
            break
    assert answers[-1] == 409
    clock = await client.get("/_emulator/clock", headers=admin)
    assert clock.status_code == 200, clock.text
    made = await client.post("/_emulator/accounts", json={}, headers=admin)
    assert made.status_code == 201, made.text
