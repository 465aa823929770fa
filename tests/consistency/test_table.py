"""The human output of ``fileserver check-consistency``: one row per discrepancy."""

from __future__ import annotations

import pytest
from rich.console import Console

from fileserver.consistency.cli import table
from fileserver.consistency.model import CheckResult, Discrepancy, Kind

pytestmark = pytest.mark.unit

SIZES = {"accounts": 2, "files": 1, "drive_files": 2, "catalog_files": 1}


def render(result: CheckResult) -> str:
    console = Console(width=200, record=True)
    console.print(table(result))
    return console.export_text()


def test_a_consistent_system_says_so_with_its_sizes() -> None:
    text = render(CheckResult((), SIZES))
    assert "consistent: 2 accounts, 1 files, 2 drive files, 1 catalog files" in text


def test_each_discrepancy_is_a_row() -> None:
    found = (
        Discrepancy(Kind.LOST_FILE, "file:f1", "uploaded, but no intact copy on Drive"),
        Discrepancy(Kind.OVER_BUDGET, "account:a", "1001 bytes issued today, budget 1000"),
    )
    lines = render(CheckResult(found, SIZES)).splitlines()
    assert "2 discrepancies" in lines[0]
    assert any("lost-file" in line and "file:f1" in line for line in lines)
    assert any("over-budget" in line and "account:a" in line for line in lines)
