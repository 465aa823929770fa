"""``fileserver plan`` end to end: the table, JSON, Markdown, the diagram files and bad input."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from fileserver.cli import app
from services.planner.plan import plan
from services.planner.profiles import seed_000, seed_001

pytestmark = pytest.mark.unit

runner = CliRunner()


def run(*args: str, code: int = 0) -> tuple[str, str]:
    """Invoke ``fileserver plan``; its stdout and its whole output with the frames removed."""
    result = runner.invoke(app, ["plan", *args])
    assert result.exit_code == code, result.output
    flat = " ".join(re.sub(r"[│╭╮╰╯─┃━┏┓┗┛]", " ", result.output).split())
    return result.stdout, flat


def run_json(*args: str) -> dict[str, Any]:
    out, _ = run(*args, "--format", "json")
    data: dict[str, Any] = json.loads(out)
    return data


def test_table_answers_accounts_pods_dollars_and_what_breaks() -> None:
    _, text = run()
    assert "Capacity plan, profile seed-001" in text
    for cell in ("1,000 users", "1,000,000 users", "1,000,000,000 users", "205,339", "206"):
        assert cell in text
    assert "Downloader pods" in text
    assert "total / month" in text
    assert "What breaks first as users grow" in text
    assert "Crossovers" in text
    assert "Prices as of 2024-06" in text


def test_json_has_the_numbers() -> None:
    data = run_json()
    assert data["profile"] == "seed-001"
    scales = data["scales"]
    assert [s["users"] for s in scales] == [1_000, 10**6, 10**9]
    assert [s["pool"]["accounts"] for s in scales] == [2, 206, 205_339]
    assert scales[1]["traffic"]["download_bytes_per_day"] == pytest.approx(16.43e12, rel=1e-3)
    assert scales[2]["bottleneck"]["component"] == "operator"
    for s in scales:
        costs = [c["usd_month"] for c in s["components"]]
        assert s["total_usd_month"] == pytest.approx(sum(costs), abs=0.05)
        assert s["notes"]
    assert {x["alternative"] for x in data["crossovers"]} >= {"Cloudflare R2 (no egress fees)"}
    assert data["prices"]["as_of"] == "2024-06"
    assert data["breaking_points"][0]["component"] == "nodes"


def test_settings_change_the_plan() -> None:
    full = run_json("--users", "1M", "--set", "target_utilisation=1")
    assert full["scales"][0]["pool"]["accounts"] == 165
    doubled = run_json("--users", "1M", "--set", "account_daily_budget_bytes=200G")
    assert doubled["scales"][0]["pool"]["accounts"] == 103  # 16.43 TB / 160 GB
    seed0 = run_json("--users", "1k,1M", "--profile", "seed-000", "--set", "max_nodes=none")
    assert [s["pool"]["accounts"] for s in seed0["scales"]] == [223, 4_107]


def test_markdown_is_a_table_per_section() -> None:
    out, _ = run("--users", "1000,1M", "--format", "md")
    lines = out.splitlines()
    assert lines[0] == "### Capacity plan, profile seed-001"
    assert lines[2] == "|  | 1,000 users | 1,000,000 users |"
    assert lines[3] == "| --- | --- | --- |"
    assert "| accounts needed | 2 | 206 |" in lines
    assert "#### What breaks first as users grow" in lines
    assert "#### Prices (as of 2024-06; estimates)" in lines
    rows = [line for line in lines if line.startswith("| ") and line.count("|") == 4]
    assert len(rows) > 40


def _svg_text(path: Path) -> str:
    root = ET.parse(path).getroot()  # noqa: S314 (the test wrote this file itself)
    assert root.tag.endswith("svg")
    return " ".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))


@pytest.mark.parametrize(("profile", "make"), [("seed-001", seed_001), ("seed-000", seed_000)])
def test_svg_diagram_shows_every_component(tmp_path: Path, profile: str, make: Any) -> None:
    path = tmp_path / "plan.svg"
    _, text = run("--users", "1k,1M", "--profile", profile, "--diagram", str(path), "--scale", "1M")
    assert f"diagram of 1,000,000 users written to {path}" in text
    assert path.stat().st_size > 20_000
    svg = _svg_text(path)
    for component in plan(make(10**6)).capacity.components:
        assert component.label in svg
    assert "Clients" in svg
    assert "1,000,000 users" in svg
    assert "bottleneck" in svg
    assert "BOTTLENECK" in svg
    assert "/month" in svg


def test_png_diagram_is_a_real_image(tmp_path: Path) -> None:
    path = tmp_path / "plan.png"
    out, _ = run("--users", "1B", "--format", "json", "--diagram", str(path))
    assert json.loads(out)["scales"][0]["users"] == 10**9  # the message went to stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 50_000
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] > 1_500
        assert image.size[1] > 1_000
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is not None
        assert len(colours) > 100
        labels = str(image.info["Description"])
    for component in plan(seed_001(10**9)).capacity.components:
        assert component.label in labels


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "abc"], "'abc' is not a user count such as 1000, 1M or 1B"),
        (["--users", "-5"], "'-5' is not a user count"),
        (["--users", "0"], "users must be at least 1"),
        (["--users", "100B"], "more than people on Earth"),
        (["--users", "1.5k,2.25"], "'2.25' is not a whole number of users"),
        (["--set", "peak_factor=500"], "peak factor must be at least 1 and at most 100 (got 500)"),
        (["--set", "mix=video"], "'mix' cannot be set"),
        (["--set", "peak_factor"], "'peak_factor' is not name=value"),
        (["--set", "min_replicas=two"], "min_replicas:"),
        (["--set", "placement=everywhere"], "placement:"),
        (["--set", "placement=all", "--profile", "seed-000"], "use 'demand'"),
        (["--set", "account_storage_bytes=3T"], "no Drive plan in the price table has 3,000 GB"),
        (["--diagram", "plan.pdf"], "the diagram is written as .svg or .png"),
        (["--diagram", "plan.svg", "--scale", "lots"], "'lots' is not a user count"),
        (["--profile", "seed-009"], "seed-009"),
    ],
)
def test_bad_input_is_refused_with_a_reason(args: list[str], message: str) -> None:
    _, text = run("--users", "1000", *args, code=2)
    assert message in text
