"""How the end-to-end benchmark turns /proc samples into cores per process and names what
saturated first; the benchmark itself runs in ``python -m bench`` (it needs minutes)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.proc import TICKS
from bench.system_load import CpuSampler, bottleneck

pytestmark = pytest.mark.unit


def test_window_gives_cores_per_tree_and_its_busiest_process() -> None:
    sampler = CpuSampler({"downloader": 1, "jmeter": 2})
    sampler.snapshots = [
        (99.0, {"downloader": {10: 0}, "jmeter": {20: 0}}, (0, 0)),  # before the window
        (100.0, {"downloader": {10: 0, 11: 0}, "jmeter": {20: 0}}, (0, 0)),
        (102.0, {"downloader": {10: TICKS, 11: TICKS * 2}, "jmeter": {20: TICKS}}, (TICKS * 4, 0)),
        (103.0, {"downloader": {10: TICKS * 9}, "jmeter": {20: TICKS * 9}}, (TICKS * 9, 0)),
    ]
    cpu, machine = sampler.window(100.0, 102.5)
    assert cpu["downloader"] == {"cores": 1.5, "busiest_process_cores": 1.0}
    assert cpu["jmeter"] == {"cores": 0.5, "busiest_process_cores": 0.5}
    assert machine == 2.0
    with pytest.raises(RuntimeError, match="too few"):
        sampler.window(100.5, 101.5)


def _level(downloader: float, redis: float, machine: float, jmeter: float = 1.2) -> dict[str, Any]:
    cpu = {
        "downloader": {"cores": downloader, "busiest_process_cores": downloader},
        "redis": {"cores": redis, "busiest_process_cores": redis},
        "jmeter": {"cores": jmeter, "busiest_process_cores": jmeter},  # not single-threaded
    }
    return {"system": {"rps": 100.0, "cpu": cpu, "machine_busy_cores": machine}}


def test_a_single_threaded_process_near_one_core_is_named_first() -> None:
    found = bottleneck(_level(0.93, 0.2, 2.0), cpus=2)
    assert (found["kind"], found["process"]) == ("process", "downloader")
    assert found["statement"].startswith("downloader at 93% of one core")
    # 100 samples/s: the Downloader fills its core at 100 / 0.93, the CPUs at 2 × 100 / 2.33.
    assert found["first"] == "the 2 CPUs"
    assert found["ceilings"]["downloader"] == pytest.approx(107.5, abs=0.1)
    assert found["statement"].endswith("the 2 CPUs would fill first, at ≈ 86 samples/s")


def test_otherwise_busy_cpus_or_nothing() -> None:
    busy = bottleneck(_level(0.4, 0.5, 1.9, jmeter=0.1), cpus=2)
    assert (busy["kind"], busy["process"]) == ("machine", None)
    assert "2 CPUs (1.90 cores busy, 0.90 by other work)" in busy["statement"]
    assert "redis 0.50" in busy["statement"]
    idle = bottleneck(_level(0.4, 0.1, 1.0, jmeter=0.1), cpus=2)
    assert idle["kind"] == "none"
    assert idle["first"] == "downloader"  # 100 / 0.4 = 250 samples/s, the CPUs at 2 × 100 / 0.6
