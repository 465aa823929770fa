"""Uploads on the wire: the resumable protocol (308 + Range, Location, status questions),
multipart and media uploads, and Drive's error bodies when an upload is refused."""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from tests.drive_emulator.conftest import MakeDrive, drive_error, multipart

pytestmark = pytest.mark.integration

K256 = 256 * 1024


async def test_resumable_protocol(drive: MakeDrive) -> None:
    api = await drive()
    data = os.urandom(3 * K256 + 1000)
    total = len(data)
    started = await api.http.post(
        "/upload/drive/v3/files",
        params={"uploadType": "resumable", "fields": "id,size,md5Checksum"},
        json={"name": "movie.mkv"},
        headers={"X-Upload-Content-Length": str(total), "X-Upload-Content-Type": "video/x-mkv"},
    )
    assert started.status_code == 200
    session = started.headers["location"]
    assert "uploadType=resumable" in session
    assert f"upload_id={started.headers['x-guploader-uploadid']}" in session

    async def put(content: bytes, content_range: str) -> httpx.Response:
        return await api.http.put(
            session, content=content, headers={"Content-Range": content_range}
        )

    empty = await put(b"", f"bytes */{total}")
    assert (empty.status_code, "range" in empty.headers) == (308, False)

    first = await put(data[:K256], f"bytes 0-{K256 - 1}/{total}")
    assert first.status_code == 308
    assert first.headers["range"] == f"bytes=0-{K256 - 1}"
    asked = await put(b"", f"bytes */{total}")
    assert (asked.status_code, asked.headers["range"]) == (308, f"bytes=0-{K256 - 1}")

    gap = await put(data[K256 + 10 : 2 * K256], f"bytes {K256 + 10}-{2 * K256 - 1}/{total}")
    assert gap.status_code == 400
    assert gap.json()["error"]["message"] == (
        f"Invalid request. According to the Content-Range header, the upload offset is "
        f"{K256 + 10} byte(s), which exceeds already uploaded size of {K256} byte(s)."
    )

    # The client re-sends from an earlier offset: the overlap is skipped, not duplicated.
    overlap = await put(data[1000 : 2 * K256], f"bytes 1000-{2 * K256 - 1}/{total}")
    assert overlap.headers["range"] == f"bytes=0-{2 * K256 - 1}"
    stale = await put(data[:1000], f"bytes 0-999/{total}")  # all of it already stored
    assert (stale.status_code, stale.headers["range"]) == (308, f"bytes=0-{2 * K256 - 1}")

    done = await put(data[2 * K256 :], f"bytes {2 * K256}-{total - 1}/{total}")
    assert done.status_code == 200
    body = done.json()
    assert set(body) == {"id", "size", "md5Checksum"}
    assert body["size"] == str(total)
    assert body["md5Checksum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()

    again = await put(b"", f"bytes */{total}")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    content = await api.http.get(f"/drive/v3/files/{body['id']}", params={"alt": "media"})
    assert content.content == data
    assert content.headers["content-type"] == "video/x-mkv"


async def test_multipart_upload(drive: MakeDrive) -> None:
    api = await drive()
    body, content_type = multipart({"name": "notes.txt"}, b"some text", "text/plain")
    answer = await api.http.post(
        "/upload/drive/v3/files",
        params={"uploadType": "multipart"},
        content=body,
        headers={"Content-Type": content_type},
    )
    assert answer.status_code == 200
    resource = answer.json()
    assert set(resource) == {"kind", "id", "name", "mimeType"}  # Drive's default fields
    assert (resource["kind"], resource["name"], resource["mimeType"]) == (
        "drive#file",
        "notes.txt",
        "text/plain",
    )
    full = await api.http.get(f"/drive/v3/files/{resource['id']}", params={"fields": "*"})
    assert full.json()["size"] == "9"
    assert full.json()["owners"][0]["emailAddress"] == api.account.email


async def test_media_upload_is_untitled(drive: MakeDrive) -> None:
    api = await drive()
    answer = await api.http.post(
        "/upload/drive/v3/files",
        params={"uploadType": "media"},
        content=b"\x00\x01",
        headers={"Content-Type": "application/x-raw"},
    )
    assert answer.json()["name"] == "Untitled"
    assert answer.json()["mimeType"] == "application/x-raw"


async def test_unknown_session(drive: MakeDrive) -> None:
    api = await drive()
    answer = await api.http.put(
        "/upload/drive/v3/files",
        params={"uploadType": "resumable", "upload_id": "nope"},
        headers={"Content-Range": "bytes */10"},
    )
    assert answer.status_code == 404
    assert answer.json() == drive_error(404, "notFound", "Upload session not found or expired.")


async def test_upload_past_storage_is_refused_up_front(drive: MakeDrive) -> None:
    api = await drive(storage_bytes=1000)
    answer = await api.http.post(
        "/upload/drive/v3/files",
        params={"uploadType": "resumable"},
        json={"name": "big"},
        headers={"X-Upload-Content-Length": "1001"},
    )
    assert answer.status_code == 403
    assert answer.json() == drive_error(
        403,
        "storageQuotaExceeded",
        "The user's Drive storage quota has been exceeded.",
        domain="usageLimits",
    )


async def test_requests_need_valid_credentials(drive: MakeDrive) -> None:
    api = await drive()
    anonymous = await api.http.get("/drive/v3/files", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["errors"][0] == {
        "domain": "global",
        "reason": "required",
        "message": "Login Required.",
        "locationType": "header",
        "location": "Authorization",
    }
    forged = await api.http.get("/drive/v3/files", headers={"Authorization": "Bearer ya29.forged"})
    assert forged.status_code == 401
    assert forged.json()["error"]["errors"][0]["reason"] == "authError"
    assert forged.json()["error"]["message"] == "Invalid Credentials"
    assert forged.headers["www-authenticate"].startswith("Bearer")
