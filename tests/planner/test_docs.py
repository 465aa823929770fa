"""docs/capacity.md and its diagrams are the command's own output, regenerated when the model or
the prices change (like crds/ from apis/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.planner.diagram import draw
from services.planner.plan import plan, study
from services.planner.prices import PRICES
from services.planner.profiles import PROFILES
from services.planner.report import render_markdown

pytestmark = pytest.mark.unit

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCALES = {"1k": 1_000, "1m": 10**6, "1b": 10**9}


@pytest.mark.parametrize("profile", ["seed-001", "seed-000"])
def test_capacity_md_pastes_the_current_output(profile: str) -> None:
    expected = render_markdown(study(profile, PROFILES[profile](1), list(SCALES.values())))
    assert expected in (DOCS / "capacity.md").read_text(), (
        f"docs/capacity.md is stale: paste `uv run fileserver plan --profile {profile} --format md`"
    )


@pytest.mark.parametrize("profile", ["seed-001", "seed-000"])
@pytest.mark.parametrize("scale", list(SCALES))
def test_diagrams_are_current(tmp_path: Path, profile: str, scale: str) -> None:
    name = f"plan-{profile}-{scale}.svg"
    fresh = tmp_path / name
    draw(plan(PROFILES[profile](SCALES[scale])), fresh, profile=profile, prices_as_of=PRICES.as_of)
    assert (DOCS / "img" / name).read_bytes() == fresh.read_bytes(), (
        f"docs/img/{name} is stale: run `uv run fileserver plan --profile {profile} "
        f"--users {scale} --diagram docs/img/{name}`"
    )
    assert f"](img/{name})" in (DOCS / "capacity.md").read_text()


def test_a_diagram_is_svg_or_png(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SVG or PNG"):
        draw(plan(PROFILES["seed-001"](1)), tmp_path / "x.pdf", profile="p", prices_as_of="d")
