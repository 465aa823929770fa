"""The load plans run green on a private system, and the committed ``.jmx`` files are the
ones :mod:`fileserver.load.plans` builds (in ``jmeter/plans`` and in the chart's copy).

The smoke run (2 threads, 1 iteration, every plan) judges JMeter's own results files: no
failed sample, every sampler of every plan present, the rotation check once per thread; and
that the budget plan gave every account its budget back.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fileserver.load.plans import CHART_PLANS_DIR, PLANS, PLANS_DIR, render
from fileserver.load.results import read_jtl
from tests.utils.local_system import PrivateSystem

THREADS = 2
SAMPLERS = ("HTTPSamplerProxy", "DebugSampler")


@pytest.mark.unit
@pytest.mark.parametrize("folder", [PLANS_DIR, CHART_PLANS_DIR], ids=["jmeter", "chart"])
def test_committed_plans_are_the_generated_ones(folder: Path) -> None:
    """Regenerate with ``uv run python -m fileserver.load.plans`` after changing plans.py."""
    assert sorted(p.stem for p in folder.glob("*.jmx") if p.stem in PLANS) == sorted(PLANS)
    for name in PLANS:
        assert (folder / f"{name}.jmx").read_text() == render(name), name


def _samplers(plan: str) -> dict[str, str]:
    """Sampler name → its thread group's kind, from the plan file."""
    root = ET.parse(PLANS_DIR / f"{plan}.jmx").getroot()  # noqa: S314 (our own file)
    found: dict[str, str] = {}
    plan_tree = root.find("hashTree/hashTree")
    assert plan_tree is not None
    groups = list(plan_tree)
    for group, tree in zip(groups[::2], groups[1::2], strict=True):
        for tag in SAMPLERS:
            for el in tree.iter(tag):
                found[el.get("testname", "")] = group.tag
    return found


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSystem]:
    private = PrivateSystem.allocate(tmp_path_factory.mktemp("load") / "state")
    try:
        up = private.fileserver("up", "--detach", "--accounts", "3", timeout=900)
        assert up.returncode == 0, up.stdout + up.stderr
        yield private
    finally:
        private.fileserver("down")


@pytest.fixture(scope="module")
def load_run(system: PrivateSystem) -> tuple[subprocess.CompletedProcess[str], Path]:
    result = system.fileserver(
        "load", "--plan", "all", "--iterations", "1", "--threads", str(THREADS), timeout=600
    )
    runs = sorted((system.state_dir / "load").iterdir())
    assert len(runs) == 1, runs
    return result, runs[0]


@pytest.mark.integration
def test_load_passes_and_reports(load_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, out = load_run
    failures = [line for line in result.stdout.splitlines() if line.startswith("✗")]
    assert result.returncode == 0, "\n".join(failures) or result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert [p["plan"] for p in summary["plans"]] == list(PLANS)
    assert all(p["failed"] == 0 and p["jmeter_exit"] == 0 for p in summary["plans"])
    for name in PLANS:
        assert (out / f"{name}-report" / "index.html").exists(), name
        assert f"{name}: " in result.stdout  # its summary table


@pytest.mark.integration
@pytest.mark.parametrize("plan", list(PLANS))
def test_every_sampler_ran_and_passed(
    load_run: tuple[subprocess.CompletedProcess[str], Path], plan: str
) -> None:
    samples = read_jtl(load_run[1] / f"{plan}.jtl")
    failed = [f"{s.label}: {s.code} {s.failure}" for s in samples if not s.success]
    assert failed == []
    ran: dict[str, int] = {}
    for sample in samples:
        ran[sample.label] = ran.get(sample.label, 0) + 1
    expected = _samplers(plan)
    assert sorted(set(expected) - set(ran)) == []
    for label, group in expected.items():
        if group == "ThreadGroup" and not label.startswith("poll"):
            assert ran[label] >= THREADS, label  # every client thread ran it


@pytest.mark.integration
def test_rotation_was_checked_once_per_thread(
    load_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    samples = read_jtl(load_run[1] / "downloads.jtl")
    checks = [s for s in samples if s.label.startswith("check: consecutive URLs rotate")]
    assert len(checks) == THREADS
    assert all(c.success for c in checks)
    rotation = [s for s in samples if s.label == "download URL (rotation)"]
    assert len(rotation) == 3 * THREADS  # one URL per account holding the file, per thread


@pytest.mark.integration
def test_budget_plan_gives_every_budget_back(
    system: PrivateSystem, load_run: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    local = system.local_system()
    answer = httpx.get(
        f"{local.service('uploader').url}/accounts",
        headers={"Authorization": f"Bearer {local.secrets.uploader_admin_token}"},
        params={"limit": 1000},
    )
    accounts = answer.json()["items"]
    assert len(accounts) == 3  # the plans' own accounts are gone
    assert {a["daily_budget_bytes"] for a in accounts} == {local.settings.demo_budget_bytes}
