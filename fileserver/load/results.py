"""JMeter's results file (``.jtl``, CSV) reduced to what a run is judged by: per sampler, the
samples, the failures, the throughput and the latency percentiles."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    label: str
    start_ms: int
    elapsed_ms: int
    success: bool
    code: str
    failure: str


@dataclass(frozen=True)
class SamplerSummary:
    label: str
    samples: int
    failures: int
    throughput: float  # samples per second over the plan's whole run
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def error_pct(self) -> float:
        return 100.0 * self.failures / self.samples if self.samples else 0.0


@dataclass(frozen=True)
class PlanSummary:
    plan: str
    seconds: float
    samplers: list[SamplerSummary]
    failures: list[Sample]

    @property
    def samples(self) -> int:
        return sum(s.samples for s in self.samplers)

    @property
    def failed(self) -> int:
        return sum(s.failures for s in self.samplers)

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "seconds": round(self.seconds, 3),
            "samples": self.samples,
            "failed": self.failed,
            "throughput": round(self.samples / self.seconds, 2) if self.seconds else 0.0,
            "samplers": [asdict(s) | {"error_pct": round(s.error_pct, 2)} for s in self.samplers],
            "failures": [asdict(f) for f in self.failures[:50]],
        }


def read_jtl(path: Path) -> list[Sample]:
    """The samples of a CSV results file (JMeter's default columns)."""
    with path.open(newline="") as fh:
        return [
            Sample(
                label=row["label"],
                start_ms=int(row["timeStamp"]),
                elapsed_ms=int(row["elapsed"]),
                success=row["success"] == "true",
                code=row["responseCode"],
                failure=row.get("failureMessage") or row.get("responseMessage") or "",
            )
            for row in csv.DictReader(fh)
        ]


def percentile(values: list[int], q: float) -> float:
    """Nearest-rank percentile, as JMeter's dashboard computes it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return float(ordered[int(rank) - 1])


def summarise(plan: str, samples: list[Sample]) -> PlanSummary:
    """Per-sampler figures in the order samplers first ran."""
    if not samples:
        return PlanSummary(plan, 0.0, [], [])
    first = min(s.start_ms for s in samples)
    last = max(s.start_ms + s.elapsed_ms for s in samples)
    seconds = max(last - first, 1) / 1000
    by_label: dict[str, list[Sample]] = {}
    for sample in sorted(samples, key=lambda s: s.start_ms):
        by_label.setdefault(sample.label, []).append(sample)
    samplers = []
    for label, group in by_label.items():
        elapsed = [s.elapsed_ms for s in group]
        samplers.append(
            SamplerSummary(
                label=label,
                samples=len(group),
                failures=sum(not s.success for s in group),
                throughput=len(group) / seconds,
                p50_ms=percentile(elapsed, 50),
                p95_ms=percentile(elapsed, 95),
                p99_ms=percentile(elapsed, 99),
            )
        )
    failures = [s for s in samples if not s.success]
    return PlanSummary(plan, seconds, samplers, failures)
