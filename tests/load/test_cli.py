"""``fileserver load`` judges a run by its samples: any failed sample is exit 1, and the
summary names the sampler; the figures come from the results file."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fileserver.cli import app
from fileserver.devstack.config import DevstackSettings
from fileserver.devstack.stack import Stack
from fileserver.load import cli
from fileserver.load.results import Sample, percentile, summarise
from fileserver.load.runner import LoadSettings, PlanRun
from fileserver.system.system import LocalSystem

pytestmark = pytest.mark.unit


def _sample(label: str, start: int, elapsed: int, ok: bool = True) -> Sample:
    return Sample(label, start, elapsed, ok, "200" if ok else "500", "" if ok else "boom")


def test_summary_per_sampler() -> None:
    samples = [_sample("a", 1000 + i, i + 1) for i in range(100)]
    samples.append(_sample("b", 1500, 900, ok=False))
    summary = summarise("plan", samples)
    a, b = summary.samplers
    assert (a.label, a.samples, a.failures, a.p50_ms, a.p95_ms, a.p99_ms) == (
        "a", 100, 0, 50.0, 95.0, 99.0,
    )  # fmt: skip
    assert (b.failures, b.error_pct) == (1, 100.0)
    assert summary.seconds == pytest.approx(1.4)  # first start to last end
    assert a.throughput == pytest.approx(100 / 1.4)
    assert summary.failures == [samples[-1]]
    assert percentile([], 50) == 0.0


def _fake_run(samples: list[Sample], outs: list[Path]) -> object:
    def run_plans(
        system: LocalSystem, names: list[str], settings: LoadSettings, out: Path, *, report: bool
    ) -> list[PlanRun]:
        out.mkdir(parents=True, exist_ok=True)
        outs.append(out)
        return [PlanRun(n, out / f"{n}.jtl", None, 0, summarise(n, samples)) for n in names]

    return run_plans


def _private(state_dir: Path) -> LocalSystem:
    return LocalSystem(Stack(DevstackSettings(state_dir=state_dir), cluster=False))


@contextlib.contextmanager
def _no_system(system: LocalSystem) -> Iterator[list[str]]:
    yield []


@pytest.mark.parametrize(("ok", "code"), [(True, 0), (False, 1)])
def test_exit_code_follows_the_samples(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ok: bool, code: int
) -> None:
    monkeypatch.setattr(cli, "LocalSystem", lambda: _private(tmp_path))
    monkeypatch.setattr(cli, "running_system", _no_system)
    outs: list[Path] = []
    monkeypatch.setattr(cli, "run_plans", _fake_run([_sample("get the file", 0, 5, ok)], outs))
    result = CliRunner().invoke(app, ["load", "--plan", "files", "--threads", "3"])
    assert result.exit_code == code, result.output
    assert "get the file" in result.output
    assert outs[0].parent == tmp_path / "load"
    summary = json.loads((outs[0] / "summary.json").read_text())
    assert summary["settings"]["threads"] == "3"
    assert summary["plans"][0]["failed"] == (0 if ok else 1)
    if not ok:
        assert "1 failed samples" in result.output


def test_unknown_plan_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli, "LocalSystem", lambda: _private(tmp_path))
    result = CliRunner().invoke(app, ["load", "--plan", "nonsense"])
    assert result.exit_code == 2
    assert "unknown plan" in result.output
