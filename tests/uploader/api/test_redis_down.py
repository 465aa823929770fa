"""With Redis away, the Uploader answers clearly: an upload (no lock needed) is accepted and
its job left to the sweep; a write that needs a document lock is 503 with Retry-After."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from tests.utils.drive import free_port
from tests.utils.uploader import ADMIN, live_uploader, uploader_settings

pytestmark = pytest.mark.integration


def _enqueue_failures() -> float:
    labels = {"job": "reconcile_file"}
    return REGISTRY.get_sample_value("fileserver_uploader_enqueue_failures_total", labels) or 0.0


async def test_redis_away_upload_is_accepted_and_a_locked_write_is_503(
    mongo_url: str, mongo_db: AsyncDatabase[Any]
) -> None:
    nobody = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    settings = uploader_settings(mongo_url, mongo_db.name, nobody)
    before = _enqueue_failures()
    async with live_uploader(settings) as up:
        upload = await up.client.post(
            "/files", params={"name": "a.bin"}, content=b"abc", headers=ADMIN
        )
        assert upload.status_code == 202, upload.text
        file_id = upload.json()["id"]
        stored = await up.client.get(f"/files/{file_id}", headers=ADMIN)
        assert stored.json()["status"] == "replicating"
        assert _enqueue_failures() == before + 1  # left for the sweep, counted

        rename = await up.client.patch(f"/files/{file_id}", json={"name": "b.bin"}, headers=ADMIN)
        assert rename.status_code == 503, rename.text
        assert rename.headers["retry-after"] == "5"
        assert "Redis" in rename.json()["detail"]
        assert (await up.client.get(f"/files/{file_id}", headers=ADMIN)).json()["name"] == "a.bin"
