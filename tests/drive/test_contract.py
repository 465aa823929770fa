"""Contract tests: the real client (google-api-python-client + google-auth) against the emulator.

Every operation of the facade, with every kind of credentials the emulator issues, over real
HTTP on loopback: the same code path production takes to Google.
"""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest
from googleapiclient.http import MediaInMemoryUpload

from services.drive.client import FILE_FIELDS
from services.drive.errors import NotFound, PermissionDenied
from services.drive.transport import ThreadTransports
from tests.drive.conftest import CHUNK, MakeClient
from tests.utils.drive import EmulatorAdmin, PatternSource

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("kind", ["authorized_user", "service_account", "emulator_token"])
async def test_every_credential_kind_reaches_drive(make_client: MakeClient, kind: str) -> None:
    account, client = await make_client(kind)
    about = await client.about()
    assert about.email == account.email
    assert about.storage_limit == 15 * 1024**3
    assert about.storage_usage == 0


async def test_upload_get_list_delete(make_client: MakeClient) -> None:
    _, client = await make_client()
    source = PatternSource(3 * CHUNK + 12345, piece=100_000)
    uploaded = await client.upload(source.stream(), "report.bin", source.size, "application/x-test")
    assert uploaded.size == source.size
    assert uploaded.md5 == source.md5.hexdigest()
    assert uploaded.mime_type == "application/x-test"
    assert await client.get(uploaded.id) == uploaded
    assert [f.id for f in await client.list()] == [uploaded.id]
    assert [f.id for f in await client.list(name="report.bin")] == [uploaded.id]
    assert await client.list(name="other's.bin") == []
    assert (await client.about()).storage_usage == source.size

    await client.delete(uploaded.id)
    with pytest.raises(NotFound):
        await client.get(uploaded.id)
    with pytest.raises(NotFound):
        await client.delete(uploaded.id)
    await client.delete(uploaded.id, missing_ok=True)
    assert await client.list() == []


async def test_empty_file(make_client: MakeClient) -> None:
    _, client = await make_client()
    uploaded = await client.upload(PatternSource(0).stream(), "empty", 0)
    assert uploaded.size == 0
    assert uploaded.md5 == hashlib.md5(b"", usedforsecurity=False).hexdigest()


async def test_shared_download_url_and_range(make_client: MakeClient) -> None:
    _, client = await make_client()
    source = PatternSource(2 * CHUNK + 7)
    uploaded = await client.upload(source.stream(), "film.bin", source.size)
    url = client.download_url(uploaded.id, source.size)
    async with httpx.AsyncClient() as anonymous:
        assert (await anonymous.get(url)).status_code == 404  # not shared yet
        assert await client.share_anyone_reader(uploaded.id) == "anyoneWithLink"
        whole = await anonymous.get(url)
        assert whole.status_code == 200
        assert hashlib.md5(whole.content, usedforsecurity=False).hexdigest() == uploaded.md5
        part = await anonymous.get(url, headers={"Range": "bytes=1000000-1100000"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 1000000-1100000/{source.size}"
    assert part.content == source.expected(1_000_000, 1_100_000)
    assert await client.read(uploaded.id, 5, 20) == source.expected(5, 20)


async def test_copy_fans_out_server_side(
    make_client: MakeClient, emulator_admin: EmulatorAdmin
) -> None:
    owner_account, owner = await make_client()
    other_account, other = await make_client()
    source = PatternSource(CHUNK + 99)
    original = await owner.upload(source.stream(), "hot.bin", source.size)
    with pytest.raises(NotFound):
        await other.copy(original.id, "hot copy.bin")  # not shared inside the pool yet
    await owner.share_anyone_reader(original.id)
    received_before = await emulator_admin.metric(
        "drive_emulator_bytes_received_total", account=other_account.id
    )

    copy = await other.copy(original.id, "hot copy.bin")

    assert copy.id != original.id
    assert (copy.name, copy.size, copy.md5) == ("hot copy.bin", source.size, original.md5)
    assert [f.id for f in await other.list()] == [copy.id]
    assert (await other.about()).storage_usage == source.size
    usage = (await emulator_admin.account(other_account.id))["usage"]
    assert usage["uploaded_bytes"] == source.size  # copies count toward the 750 GB/day
    received_after = await emulator_admin.metric(
        "drive_emulator_bytes_received_total", account=other_account.id
    )
    assert received_after == received_before  # no byte crossed the network
    with pytest.raises(PermissionDenied):
        await other.delete(original.id)
    assert (await owner.get(original.id)).id == original.id
    assert owner_account.id != other_account.id


async def test_parallel_uploads_share_the_account_pool(make_client: MakeClient) -> None:
    _, client = await make_client()
    sources = [PatternSource(CHUNK + i, seed=bytes([i])) for i in range(6)]
    files = await asyncio.gather(
        *(client.upload(s.stream(), f"f{i}", s.size) for i, s in enumerate(sources))
    )
    assert [f.md5 for f in files] == [s.md5.hexdigest() for s in sources]
    assert len(await client.list()) == 6


async def test_multipart_upload_through_the_library(make_client: MakeClient) -> None:
    """The emulator also takes the library's one-request multipart form."""
    account, client = await make_client()
    transports = ThreadTransports(account.parsed().to_google([]), client.settings)

    def create() -> dict[str, str]:
        media = MediaInMemoryUpload(b"hello multipart", mimetype="text/plain", resumable=False)
        request = (
            transports.service()
            .files()
            .create(body={"name": "note.txt"}, media_body=media, fields=FILE_FIELDS)
        )
        result: dict[str, str] = request.execute(http=transports.http())
        return result

    try:
        body = await asyncio.to_thread(create)
    finally:
        transports.close()
    assert body["name"] == "note.txt"
    assert body["mimeType"] == "text/plain"
    assert body["size"] == "15"
    assert (await client.get(body["id"])).md5 == hashlib.md5(
        b"hello multipart", usedforsecurity=False
    ).hexdigest()
