"""Stats' computation: increments per file and account per budget day, duplicates once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.shared.days import budget_day, next_rollover
from services.shared.stats import IssueBatch, IssuedUrl
from services.stats.service import aggregate

pytestmark = pytest.mark.unit


def _issued(
    file_id: str, account_id: str, nbytes: int, day: date, event_id: uuid.UUID | None = None
) -> IssuedUrl:
    return IssuedUrl(
        id=event_id or uuid.uuid4(),
        file_id=file_id,
        account_id=account_id,
        bytes=nbytes,
        day=day,
        issued_at=datetime(2030, 1, 1, 23, 59, 59, tzinfo=UTC),
    )


def test_increments_per_key_and_day_with_duplicates_counted_once() -> None:
    d1, d2 = date(2030, 1, 1), date(2030, 1, 2)
    twice = uuid.uuid4()
    batch = IssueBatch(
        batch_id=uuid.uuid4(),
        issued=(
            _issued("f", "a", 10, d1, twice),
            _issued("f", "a", 10, d1, twice),
            _issued("f", "b", 5, d1),
            _issued("f", "a", 7, d2),
            _issued("g", "a", 1, d2),
        ),
    )
    result = aggregate(batch)
    assert result.batch_id == batch.batch_id
    assert result.events == 4
    files = {(i.key, i.day): (i.downloads, i.bytes) for i in result.files}
    accounts = {(i.key, i.day): (i.downloads, i.bytes) for i in result.accounts}
    assert files == {("f", d1): (2, 15), ("f", d2): (1, 7), ("g", d2): (1, 1)}
    assert accounts == {("a", d1): (1, 10), ("b", d1): (1, 5), ("a", d2): (2, 8)}
    assert aggregate(batch) == result  # deterministic: a redelivery gives the same increments


def test_budget_days_follow_the_rollover_time() -> None:
    from datetime import time

    rollover = time(6, 30)
    before = datetime(2030, 1, 2, 6, 29, 59, tzinfo=UTC)
    after = datetime(2030, 1, 2, 6, 30, tzinfo=UTC)
    assert budget_day(before, rollover) == date(2030, 1, 1)
    assert budget_day(after, rollover) == date(2030, 1, 2)
    assert next_rollover(before, rollover) == after
    assert next_rollover(after, rollover) == datetime(2030, 1, 3, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        budget_day(datetime(2030, 1, 1), rollover)
