"""The fault campaign, short and seeded, on a private system: every kind of fault is injected
once (then a few more), and afterwards the convergence checker must find nothing wrong.

A failure prints the seed and the schedule; ``uv run python -m bench.chaos --seed 11
--seconds 30`` replays the same schedule. Also ``fileserver check-consistency`` as a user runs
it against that system, before and after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from bench.chaos import FAULT_KINDS, campaign, private_system
from tests.utils.local_system import PrivateSystem

pytestmark = pytest.mark.integration

SEED = 11


@pytest.fixture(scope="module")
def system() -> Iterator[PrivateSystem]:
    with private_system(budget_bytes=5_000_000) as private:
        yield private


def check_consistency(system: PrivateSystem, *args: str) -> tuple[int, dict[str, Any]]:
    """``fileserver check-consistency --json`` as a user runs it against the system."""
    result = system.fileserver("check-consistency", "--json", *args, timeout=120)
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report


def test_a_fresh_system_is_consistent(system: PrivateSystem) -> None:
    code, report = check_consistency(system)
    assert (code, report["consistent"]) == (0, True), report
    assert report["sizes"] == {"accounts": 3, "files": 0, "drive_files": 0, "catalog_files": 0}


async def test_the_system_converges_after_a_seeded_fault_campaign(system: PrivateSystem) -> None:
    result = await campaign(system.local_system(), seed=SEED, seconds=30, converge_within=300)

    assert result["discrepancies"] == [], result
    assert result["converged"]
    assert set(result["faults"]) == {*FAULT_KINDS, "clock:rollover"}
    before, after = (date.fromisoformat(result["rollover"][k]) for k in ("before", "after"))
    assert after == before + timedelta(days=1)  # the day turned in the middle of the load
    assert result["operations"]["upload:ok"] > 0
    assert result["operations"]["download:ok"] > 0
    assert result["operations"]["delete:ok"] > 0
    assert result["replayed_events"]["ignored"] > 0
    assert result["replayed_events"].get("applied", 0) == 0  # all stale or duplicates


def test_statistics_beyond_what_clients_received_fail_the_check(
    system: PrivateSystem, tmp_path_factory: pytest.TempPathFactory
) -> None:
    claimed = tmp_path_factory.mktemp("truth") / "truth.json"
    claimed.write_text(json.dumps({"accounts": {"nobody": {"downloads": 1, "bytes": 1}}}))

    code, report = check_consistency(system, "--truth", str(claimed))

    assert code == 1
    claimed_only = [d for d in report["discrepancies"] if d["subject"] == "account:nobody"]
    assert claimed_only == [
        {
            "kind": "stats",
            "subject": "account:nobody",
            "detail": "reported 0 URLs / 0 B, received 1 / 1 B",
        }
    ]
