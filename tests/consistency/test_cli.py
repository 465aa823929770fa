"""``fileserver check-consistency`` without a system: exit 2, say why, create nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.local_system import PrivateSystem

pytestmark = pytest.mark.unit


def test_no_local_system_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = PrivateSystem.allocate(state).fileserver("check-consistency", timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run fileserver up" in result.stderr
    assert not state.exists()
