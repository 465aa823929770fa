"""The start-up heap is frozen while a service serves and thawed when it stops."""

from __future__ import annotations

import gc

import pytest

from services.shared.heap import frozen_heap

pytestmark = pytest.mark.unit


def test_what_lives_at_start_up_is_frozen_while_serving_then_thawed() -> None:
    started = [object() for _ in range(1000)]  # start-up state: alive for the whole serve
    assert gc.get_freeze_count() == 0
    with frozen_heap():
        assert gc.get_freeze_count() >= len(started)
        tracked = {id(o) for o in gc.get_objects()}
        assert id(started) not in tracked  # out of every generation the collector walks
    assert gc.get_freeze_count() == 0
    assert id(started) in {id(o) for o in gc.get_objects()}
