"""Time-ordered ids: valid version 7 UUIDs, unique, and ordered by creation time."""

from __future__ import annotations

import time
import uuid

import pytest

from services.shared.ids import TimeOrderedIds

pytestmark = pytest.mark.unit


def test_ids_are_rfc_9562_version_7() -> None:
    ids = TimeOrderedIds(per_draw=4)
    for _ in range(10):  # crosses several draws of the random pool
        value = ids.next()
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert uuid.UUID(str(value)) == value


def test_ids_carry_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = TimeOrderedIds().next()
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_ids_are_unique_and_later_ids_sort_after_earlier_ones() -> None:
    ids = TimeOrderedIds(per_draw=16)
    first = [ids.next() for _ in range(1000)]
    time.sleep(0.002)  # the next millisecond: ordering is by time, not within one millisecond
    second = [ids.next() for _ in range(1000)]
    assert len(set(first + second)) == 2000
    assert max(first) < min(second)
    assert max(v.hex for v in first) < min(v.hex for v in second)  # as stored on SQLite
