"""Downloads and metadata on the wire: alt=media with Range (206/416), anonymous access to
shared files, the uc link and its virus-scan page, fields, list paging, copy and delete."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.drive_emulator.conftest import SCAN_THRESHOLD, MakeDrive, drive_error

pytestmark = pytest.mark.integration


async def test_media_and_ranges(drive: MakeDrive) -> None:
    api = await drive()
    data = os.urandom(5000)
    file_id = (await api.upload(data, mime="audio/ogg"))["id"]
    path = f"/drive/v3/files/{file_id}"

    whole = await api.http.get(path, params={"alt": "media"})
    assert (whole.status_code, whole.content) == (200, data)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/ogg"

    cases = {
        "bytes=100-199": (100, 199),
        "bytes=4900-": (4900, 4999),
        "bytes=-10": (4990, 4999),
        "bytes=4990-99999": (4990, 4999),
    }
    for header, (start, end) in cases.items():
        part = await api.http.get(path, params={"alt": "media"}, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.headers["content-range"] == f"bytes {start}-{end}/5000"
        assert part.content == data[start : end + 1]

    beyond = await api.http.get(path, params={"alt": "media"}, headers={"Range": "bytes=5000-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == "bytes */5000"
    assert beyond.json()["error"]["errors"][0]["reason"] == "requestedRangeNotSatisfiable"


async def test_anonymous_access_needs_the_anyone_permission(
    drive: MakeDrive, anonymous: httpx.AsyncClient
) -> None:
    api = await drive()
    file_id = (await api.upload(b"public later"))["id"]
    hidden = await anonymous.get(f"/drive/v3/files/{file_id}", params={"alt": "media"})
    assert hidden.status_code == 404
    assert hidden.json() == {
        "error": {
            "code": 404,
            "message": f"File not found: {file_id}.",
            "errors": [
                {
                    "domain": "global",
                    "reason": "notFound",
                    "message": f"File not found: {file_id}.",
                    "locationType": "parameter",
                    "location": "fileId",
                }
            ],
        }
    }
    permission = await api.http.post(
        f"/drive/v3/files/{file_id}/permissions", json={"type": "anyone", "role": "reader"}
    )
    assert permission.json() == {
        "kind": "drive#permission",
        "id": "anyoneWithLink",
        "type": "anyone",
        "role": "reader",
    }
    shown = await anonymous.get(
        f"/drive/v3/files/{file_id}", params={"alt": "media", "acknowledgeAbuse": "true"}
    )
    assert shown.content == b"public later"
    other = await drive()
    refused = await other.http.post(
        f"/drive/v3/files/{file_id}/permissions", json={"type": "anyone", "role": "reader"}
    )
    assert refused.json()["error"]["errors"][0]["reason"] == "insufficientFilePermissions"


async def test_uc_link_streams_small_files(drive: MakeDrive, anonymous: httpx.AsyncClient) -> None:
    api = await drive()
    file_id = (await api.upload(b"small", name='say "hi".txt'))["id"]
    assert (await anonymous.get("/uc", params={"id": file_id})).status_code == 404
    await api.share(file_id)
    answer = await anonymous.get("/uc", params={"id": file_id, "export": "download"})
    assert answer.content == b"small"
    assert answer.headers["content-disposition"] == 'attachment; filename="say hi.txt"'


async def test_uc_link_shows_the_virus_scan_page_for_large_files(
    drive: MakeDrive, anonymous: httpx.AsyncClient
) -> None:
    api = await drive()
    data = os.urandom(SCAN_THRESHOLD + 1)
    file_id = (await api.upload(data, name="large.iso"))["id"]
    await api.share(file_id)
    page = await anonymous.get("/uc", params={"id": file_id, "export": "download"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "Google Drive can't scan this file for viruses." in page.text
    assert 'action="http://127.0.0.1:' in page.text
    assert '<input type="hidden" name="confirm" value="t">' in page.text
    confirmed = await anonymous.get(
        "/download", params={"id": file_id, "export": "download", "confirm": "t"}
    )
    assert confirmed.content == data


async def test_fields_select_the_answer(drive: MakeDrive) -> None:
    api = await drive()
    file_id = (await api.upload(b"abc", name="a.txt", mime="text/plain"))["id"]
    path = f"/drive/v3/files/{file_id}"
    assert (await api.http.get(path)).json() == {
        "kind": "drive#file",
        "id": file_id,
        "name": "a.txt",
        "mimeType": "text/plain",
    }
    picked = await api.http.get(path, params={"fields": "size,owners(emailAddress)"})
    assert picked.json() == {"size": "3", "owners": [{"emailAddress": api.account.email}]}
    broken = await api.http.get(path, params={"fields": "size,owners(emailAddress"})
    assert broken.status_code == 400


async def test_list_pages_and_queries(drive: MakeDrive) -> None:
    api = await drive()
    ids = [(await api.upload(b"x", name=f"f{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        params = {"pageSize": "2", "fields": "nextPageToken,files(id)"}
        if token:
            params["pageToken"] = token
        page = (await api.http.get("/drive/v3/files", params=params)).json()
        pages += 1
        seen += [item["id"] for item in page["files"]]
        token = page.get("nextPageToken")
        if not token:
            break
    assert (pages, seen) == (3, ids)
    named = await api.http.get(
        "/drive/v3/files", params={"q": "name = 'f3' and trashed = false and 'root' in parents"}
    )
    assert [item["id"] for item in named.json()["files"]] == [ids[3]]
    unsupported = await api.http.get("/drive/v3/files", params={"q": "starred = true"})
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["errors"][0]["location"] == "q"


async def test_copy_and_delete(drive: MakeDrive) -> None:
    api = await drive()
    other = await drive()
    original = await api.upload(b"payload", name="src.bin")
    await api.share(original["id"])
    copied = await other.http.post(
        f"/drive/v3/files/{original['id']}/copy", json={}, params={"fields": "id,name,size"}
    )
    assert copied.status_code == 200
    assert copied.json()["name"] == "Copy of src.bin"
    assert copied.json()["size"] == "7"
    forbidden = await other.http.delete(f"/drive/v3/files/{original['id']}")
    assert forbidden.json() == drive_error(
        403,
        "insufficientFilePermissions",
        f"The user does not have sufficient permissions for file {original['id']}.",
    )
    deleted = await other.http.delete(f"/drive/v3/files/{copied.json()['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    gone = await other.http.get(f"/drive/v3/files/{copied.json()['id']}")
    assert gone.status_code == 404


async def test_about_requires_fields(drive: MakeDrive) -> None:
    api = await drive()
    await api.upload(b"12345")
    missing = await api.http.get("/drive/v3/about")
    assert missing.status_code == 400
    assert missing.json()["error"]["message"] == (
        "The 'fields' parameter is required for this operation."
    )
    about = await api.http.get("/drive/v3/about", params={"fields": "user,storageQuota"})
    assert about.json()["storageQuota"] == {
        "limit": str(15 * 1024**3),
        "usage": "5",
        "usageInDrive": "5",
        "usageInDriveTrash": "0",
    }
    assert about.json()["user"]["emailAddress"] == api.account.email
