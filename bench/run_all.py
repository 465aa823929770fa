"""Every benchmark of bench/ in one run, with machine-readable results.

    uv run python -m bench [--quick] [--output PATH] [--only NAME ...] [--write-docs]

Each benchmark runs as its own process (as documented in docs/performance.md) with
``--json PATH``, and measures itself against a baseline in the same run, so every figure here
is a ratio to that baseline with the absolute numbers alongside. The results, with a
description of the machine (CPU count and model, load average before and after, Python), go to
``.state/bench/results.json`` and to ``--output`` if given. ``--quick`` runs small sizes: it
checks that everything still runs; only full runs are comparable with docs/performance.md.
``--write-docs`` then rewrites the generated block of docs/performance.md and its plots
(bench/report.py).

Needs the devstack's Redis and FerretDB on their configured ports (``FILESERVER_DEV_PORT_*``);
the ones not running are started, and stopped again at the end (``operator`` starts the
kube-apiserver it needs itself, ``system_load`` a private local system of its own).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.proc import load_average, machine
from bench.report import write_docs
from fileserver.devstack.stack import Stack

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Benchmark:
    name: str
    baseline: str
    full: tuple[str, ...]
    quick: tuple[str, ...]

    @property
    def module(self) -> str:
        return f"bench.{self.name}"


BENCHMARKS = (
    Benchmark(
        "drive_upload_memory",
        "one streamed httpx PUT to the emulator (ratio: client / baseline throughput)",
        full=("--size-mib", "1024"),
        quick=("--size-mib", "64"),
    ),
    Benchmark(
        "uploader_upload",
        "writing GridFS directly (ratio: Uploader / baseline throughput)",
        full=("--size-mib", "2048"),
        quick=("--size-mib", "128"),
    ),
    Benchmark(
        "downloader",
        "a bare FastAPI endpoint on the same server settings (ratio: Downloader / baseline rps)",
        full=("--seconds", "10"),
        quick=("--seconds", "3"),
    ),
    Benchmark(
        "system_load",
        "JMeter on the bare FastAPI endpoint at the same thread count "
        "(ratio: system / baseline samples/s at the most threads)",
        full=("--threads", "1", "4", "16", "64", "--seconds", "30"),
        quick=("--threads", "4", "16", "--seconds", "10"),
    ),
    Benchmark(
        "placement",
        "uniform and naive placements of the same catalog and day (ratio: demand-driven / each "
        "in share of requested bytes served)",
        full=("--runs", "20"),
        quick=("--runs", "3"),
    ),
    Benchmark(
        "operator",
        "the API server's raw write rate for the same objects (ratio per phase: operator / raw)",
        full=(),
        quick=("--quick",),
    ),
)


def supports_json(bench: Benchmark) -> bool:
    """Whether the benchmark's CLI has ``--json`` (each one gains it separately)."""
    shown = subprocess.run(
        [sys.executable, "-m", bench.module, "--help"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return "--json" in shown.stdout


def run(bench: Benchmark, *, quick: bool, logs: Path) -> dict[str, Any]:
    """One benchmark's outcome: its figures and ratio, or why there are none."""
    args = bench.quick if quick else bench.full
    entry: dict[str, Any] = {"baseline": bench.baseline, "args": list(args)}
    if not supports_json(bench):
        return entry | {
            "status": "skipped",
            "reason": f"bench/{bench.name}.py has no --json option yet",
        }
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        started = time.monotonic()
        log = logs / f"{bench.name}.log"
        with log.open("w") as fh:
            code = subprocess.call(
                [sys.executable, "-m", bench.module, *args, "--json", str(out)],
                cwd=PROJECT_ROOT,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        entry |= {"seconds": round(time.monotonic() - started, 1), "log": str(log)}
        if code != 0 or not out.exists():
            return entry | {"status": "failed", "exit_code": code}
        figures = json.loads(out.read_text())
    return entry | {"status": "ok", "ratio": ratio_of(figures), "figures": figures}


def ratio_of(figures: dict[str, Any]) -> float | dict[str, float] | None:
    """The benchmark's ratio, or one per phase when each phase has its own baseline."""
    if "ratio" in figures:
        return figures["ratio"]  # type: ignore[no-any-return]
    phases = {k: v["ratio"] for k, v in figures.items() if isinstance(v, dict) and "ratio" in v}
    return phases or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a check, not a run")
    parser.add_argument("--output", type=Path, help="also write the results here")
    parser.add_argument("--only", nargs="+", choices=[b.name for b in BENCHMARKS])
    parser.add_argument(
        "--write-docs", action="store_true", help="rewrite docs/performance.md's generated block"
    )
    args = parser.parse_args()
    stack = Stack(cluster=False)
    results_dir = stack.settings.state_dir / "bench"
    results_dir.mkdir(parents=True, exist_ok=True)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    before = machine()
    started = stack.up(["redis", "ferretdb"])
    try:
        outcomes = {}
        for bench in chosen:
            print(f"» {bench.name} …", flush=True)
            outcomes[bench.name] = run(bench, quick=args.quick, logs=results_dir)
            outcome = outcomes[bench.name]
            ratio = outcome.get("ratio")
            shown = f"ratio {ratio}" if ratio is not None else outcome.get("reason", "")
            print(f"  {outcome['status']} {shown}", flush=True)
    finally:
        stack.down(started)
    results = {
        "started_at": started_at,
        "quick": args.quick,
        "machine": before | {"load_average_after": load_average()},
        "benchmarks": outcomes,
    }
    text = json.dumps(results, indent=2)
    for path in (results_dir / "results.json", args.output):
        if path is not None:
            path.write_text(text + "\n")
            print(f"results: {path}")
    if args.write_docs:
        for path in write_docs(results):
            print(f"wrote {path}")
    return 1 if any(o["status"] == "failed" for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
