"""The incremental catalog sync's rotation of by-id lookups."""

from __future__ import annotations

import pytest
from fileserver_operator.builders.catalog import verification_turn

pytestmark = pytest.mark.unit


def test_each_turn_takes_the_next_files_and_the_rotation_wraps() -> None:
    ids = ["f3", "f0", "f4", "f1"]
    first, cursor = verification_turn(ids, "", per_sync=2)
    second, cursor = verification_turn(ids, cursor, per_sync=2)
    third, cursor = verification_turn(ids, cursor, per_sync=2)
    assert (first, second, third) == (["f0", "f1"], ["f3", "f4"], ["f0", "f1"])
    # A cursor whose file is gone continues with the next id after it.
    assert verification_turn(ids, "f2", per_sync=1) == (["f3"], "f3")


def test_an_empty_catalog_checks_nothing_and_keeps_the_cursor() -> None:
    assert verification_turn([], "f9") == ([], "f9")
