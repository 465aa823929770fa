"""Plain uploads and the files API: staging in GridFS, validation, nothing half-written."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.uploader.config import Settings
from tests.utils.uploader import ADMIN, LiveUploader, live_uploader, pattern, uploader_settings

pytestmark = pytest.mark.integration


async def _listing(uploader: LiveUploader, params: dict[str, Any]) -> dict[str, Any]:
    """A page of ``GET /files`` (an admin route: replicas name their Drive ids)."""
    listed: dict[str, Any] = (
        await uploader.client.get("/files", params=params, headers=ADMIN)
    ).json()
    return listed


async def staged_count(db: AsyncDatabase[Any]) -> tuple[int, int]:
    return await db["fs.files"].count_documents({}), await db["fs.chunks"].count_documents({})


async def test_upload_answers_202_replicating_and_stages_bytes(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    data = pattern(3 * 256 * 1024 + 17)
    body = await uploader.upload(data, name="report 2024.pdf", content_type="application/pdf")
    assert body["status"] == "replicating"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["content_type"] == "application/pdf"
    assert body["staged"] is True
    assert await staged_count(mongo_db) == (1, 4)

    stored = await mongo_db["files"].find_one({"_id": body["id"]})
    assert stored is not None
    bucket_bytes = b"".join(
        [
            c["data"]
            async for c in mongo_db["fs.chunks"].find({"files_id": stored["staging_id"]}).sort("n")
        ]
    )
    assert bucket_bytes == data
    assert stored["dirty"] is True
    assert stored["seq"] == 1

    fetched = await uploader.file(body["id"])
    assert fetched["name"] == "report 2024.pdf"


async def test_list_filters_and_paginates(uploader: LiveUploader) -> None:
    for i in range(5):
        await uploader.upload(pattern(100, seed=i), name=f"clip-{i}.mp4", content_type="video/mp4")
    await uploader.upload(b"hello", name="notes.txt", content_type="text/plain; charset=utf-8")

    page = await _listing(uploader, {"limit": 2, "offset": 1})
    assert page["total"] == 6
    assert len(page["items"]) == 2
    assert page["offset"] == 1
    videos = await _listing(uploader, {"content_type": "video/mp4"})
    assert videos["total"] == 5
    clips = await _listing(uploader, {"name_prefix": "clip-"})
    assert sorted(f["name"] for f in clips["items"]) == [f"clip-{i}.mp4" for i in range(5)]
    text = await _listing(uploader, {"status": "replicating"})
    assert text["total"] == 6
    none = await _listing(uploader, {"name_prefix": ".*"})
    assert none["total"] == 0  # a prefix is literal text, not a pattern


async def test_list_changed_since_in_update_order(uploader: LiveUploader) -> None:
    first, second, third = [
        await uploader.upload(pattern(100, seed=i), name=f"f{i}.bin") for i in range(3)
    ]
    renamed = await uploader.client.patch(
        f"/files/{first['id']}", json={"name": "renamed.bin"}, headers=ADMIN
    )
    assert renamed.status_code == 200
    deleting = await uploader.client.delete(f"/files/{second['id']}", headers=ADMIN)
    assert deleting.status_code == 202

    def ids(page: Any) -> list[str]:
        return [f["id"] for f in page.json()["items"]]

    by_update = await uploader.client.get("/files", params={"sort": "updated_at"}, headers=ADMIN)
    assert by_update.status_code == 200
    assert ids(by_update) == [third["id"], first["id"], second["id"]]
    # A file being deleted is still listed, with its status; once purged it is gone (404).
    assert by_update.json()["items"][2]["status"] == "deleting"

    since = by_update.json()["items"][1]["updated_at"]
    changed = await uploader.client.get(
        "/files", params={"sort": "updated_at", "updated_after": since}, headers=ADMIN
    )
    assert ids(changed) == [first["id"], second["id"]]  # inclusive: nothing at `since` lost
    assert changed.json()["total"] == 2
    newest = await uploader.client.get("/files", headers=ADMIN)
    assert ids(newest) == [third["id"], second["id"], first["id"]]

    for params in (
        {"updated_after": "2026-01-01T00:00:00"},  # no offset: ambiguous
        {"updated_after": "yesterday"},
        {"sort": "name"},
    ):
        refused = await uploader.client.get("/files", params=params, headers=ADMIN)
        assert refused.status_code == 422, params


async def test_cursor_pages_walk_every_file_once_in_both_orders(uploader: LiveUploader) -> None:
    uploaded = [await uploader.upload(pattern(50, seed=i), name=f"c{i}.bin") for i in range(5)]
    renamed = await uploader.client.patch(
        f"/files/{uploaded[0]['id']}", json={"name": "moved.bin"}, headers=ADMIN
    )
    assert renamed.status_code == 200

    async def walk(sort: str) -> list[str]:
        ids: list[str] = []
        params: dict[str, Any] = {"sort": sort, "limit": 2, "count": "false"}
        while True:
            page = (await uploader.client.get("/files", params=params, headers=ADMIN)).json()
            assert page["total"] is None
            ids += [f["id"] for f in page["items"]]
            if page["next"] is None:
                return ids
            params["after"] = page["next"]

    newest = [f["id"] for f in reversed(uploaded)]
    assert await walk("-created_at") == newest
    assert await walk("updated_at") == [f["id"] for f in uploaded[1:]] + [uploaded[0]["id"]]

    counted = await _listing(uploader, {"limit": 5})
    assert counted["total"] == 5
    assert counted["next"] is not None  # a full page: the walk ends on the empty one after it
    first = await _listing(uploader, {"limit": 2})
    for params in (
        {"after": first["next"], "offset": 1},
        {"after": first["next"], "sort": "updated_at"},  # the cursor of another order
        {"after": "bm90IGEgY3Vyc29y"},
    ):
        refused = await uploader.client.get("/files", params=params, headers=ADMIN)
        assert refused.status_code == 422, params


async def test_patch_renames(uploader: LiveUploader) -> None:
    body = await uploader.upload(b"abc", name="a.txt")
    patched = await uploader.client.patch(
        f"/files/{body['id']}", json={"name": "b.txt"}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "b.txt"
    bad = await uploader.client.patch(f"/files/{body['id']}", json={"name": "../x"}, headers=ADMIN)
    assert bad.status_code == 422
    assert (await uploader.file(body["id"]))["name"] == "b.txt"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a/b.txt", "path separators"),
        ("a\\b.txt", "path separators"),
        ("bad\x07name", "control characters"),
        ("..", "must not be blank"),
        ("x" * 256, "1 to 255"),
        ("", "1 to 255"),
    ],
)
async def test_bad_names_are_refused_and_nothing_is_staged(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any], name: str, message: str
) -> None:
    response = await uploader.client.post(
        "/files", params={"name": name}, content=b"data", headers=ADMIN
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert await staged_count(mongo_db) == (0, 0)
    assert await mongo_db["files"].count_documents({}) == 0


async def test_bad_inputs_answer_4xx_with_clear_messages(
    uploader: LiveUploader, mongo_db: AsyncDatabase[Any]
) -> None:
    empty = await uploader.client.post("/files", params={"name": "e"}, content=b"", headers=ADMIN)
    assert empty.status_code == 422
    assert empty.json()["detail"] == "the file is empty"

    ctype = await uploader.client.post(
        "/files",
        params={"name": "x"},
        content=b"x",
        headers={**ADMIN, "Content-Type": "not a type"},
    )
    assert ctype.status_code == 422
    assert "type/subtype" in ctype.json()["detail"]

    no_name = await uploader.client.post("/files", content=b"x", headers=ADMIN)
    assert no_name.status_code == 422
    assert no_name.json()["detail"] == "query.name: Field required"

    mismatch = await uploader.client.post(
        "/files", params={"name": "x", "sha256": "0" * 64}, content=b"x", headers=ADMIN
    )
    assert mismatch.status_code == 422
    assert "sha256 mismatch" in mismatch.json()["detail"]

    unknown = await uploader.client.get("/files/does-not-exist", headers=ADMIN)
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no file with id 'does-not-exist'"
    for method in ("PATCH", "DELETE"):
        response = await uploader.client.request(
            method, "/files/nope", headers=ADMIN, json={} if method == "PATCH" else None
        )
        assert response.status_code == 404

    bad_json = await uploader.client.post(
        "/uploads", content=b"{not json", headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert bad_json.status_code == 422
    assert "JSON" in bad_json.json()["detail"]

    assert await staged_count(mongo_db) == (0, 0)
    assert await mongo_db["files"].count_documents({}) == 0


async def test_oversize_is_413_before_and_while_streaming(
    mongo_url: str, mongo_db: AsyncDatabase[Any], redis_url: str
) -> None:
    settings: Settings = uploader_settings(
        mongo_url, mongo_db.name, redis_url, max_upload_bytes=600 * 1024
    )
    async with live_uploader(settings) as uploader:
        declared = await uploader.client.post(
            "/files", params={"name": "big"}, content=pattern(700 * 1024), headers=ADMIN
        )
        assert declared.status_code == 413
        assert "600" in declared.json()["detail"] or "614400" in declared.json()["detail"]

        async def undeclared() -> AsyncIterator[bytes]:  # chunked: no Content-Length
            for _ in range(10):
                yield pattern(100 * 1024)

        streamed = await uploader.client.post(
            "/files", params={"name": "big"}, content=undeclared(), headers=ADMIN
        )
        assert streamed.status_code == 413
        assert "larger than the limit of 614400 bytes" in streamed.json()["detail"]
    assert await staged_count(mongo_db) == (0, 0)
    assert await mongo_db["files"].count_documents({}) == 0


async def test_mutations_need_the_admin_token(uploader: LiveUploader) -> None:
    body = await uploader.upload(b"abc")
    assert (
        await uploader.client.post("/files", params={"name": "x"}, content=b"1")
    ).status_code == 401
    assert (await uploader.client.delete(f"/files/{body['id']}")).status_code == 401
    assert (await uploader.client.patch(f"/files/{body['id']}", json={})).status_code == 401
    assert (await uploader.client.post("/files:batch", content=b"")).status_code == 401
    assert (await uploader.client.post("/uploads", json={})).status_code == 401
    assert (await uploader.client.get(f"/files/{body['id']}", headers=ADMIN)).status_code == 200


async def test_health_ready_metrics_openapi(uploader: LiveUploader) -> None:
    assert (await uploader.client.get("/healthz")).json() == {"status": "ok"}
    ready = await uploader.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "mongo": "ok", "redis": "ok"}
    await uploader.upload(pattern(1000))
    metrics = (await uploader.client.get("/metrics")).text
    assert 'fileserver_uploader_bytes_staged_total{via="single"}' in metrics
    assert "fileserver_uploader_queue_depth" in metrics
    assert 'route="/files"' in metrics
    spec = (await uploader.client.get("/openapi.json")).json()
    assert {"/accounts", "/files", "/files:batch", "/uploads/{session_id}:finish"} <= set(
        spec["paths"]
    )


async def test_readyz_names_an_unreachable_redis(
    mongo_url: str, mongo_db: AsyncDatabase[Any]
) -> None:
    settings = uploader_settings(mongo_url, mongo_db.name, "redis://127.0.0.1:1/0")
    async with live_uploader(settings) as uploader:
        ready = await uploader.client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["mongo"] == "ok"
    assert ready.json()["redis"].startswith("unreachable")
