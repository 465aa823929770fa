"""The outbox writes under concurrency: no change is lost, whatever the Mongo-wire server does."""

from __future__ import annotations

import asyncio

import pytest

from services.uploader import repository
from services.uploader.models import StoredFile
from tests.utils.uploader import LiveUploader

pytestmark = pytest.mark.integration


async def test_concurrent_changes_of_one_document_are_all_kept(uploader: LiveUploader) -> None:
    file = StoredFile(name="a.bin", size=1, content_type="application/octet-stream")
    await file.insert()

    async def mark(i: int) -> None:
        changed = await repository.change(
            StoredFile, file.id, set_={f"replicas.acc{i}": {"account_id": f"acc{i}"}}
        )
        assert changed is not None

    await asyncio.gather(*(mark(i) for i in range(30)))
    stored = await repository.get_file(file.id)
    assert stored is not None
    assert stored.seq == 31  # every $inc applied
    assert sorted(stored.replicas) == sorted(f"acc{i}" for i in range(30))


async def test_compare_and_set_has_exactly_one_winner(uploader: LiveUploader) -> None:
    file = StoredFile(name="a.bin", size=1, content_type="application/octet-stream")
    await file.insert()
    results = await asyncio.gather(
        *(
            repository.change(StoredFile, file.id, set_={"name": f"n{i}"}, where={"seq": 1})
            for i in range(20)
        )
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    stored = await repository.get_file(file.id)
    assert stored is not None
    assert stored.seq == 2
    assert stored.name == winners[0].name
