"""Plots of a benchmark run (``results.json``) as SVG for docs/performance.md.

    uv run python -m bench.plots [--results .state/bench/results.json] [--out docs/img]

Throughput against concurrency (the Downloader against the bare endpoint, and the whole system
under JMeter against JMeter on the bare endpoint), latency percentiles per concurrency level,
and the CPU each process of the system used. Drawn headless on the Agg canvas; the SVG is
deterministic (fixed hash salt, no date, text kept as text), so regenerating unchanged data
rewrites the same bytes and a diff of ``docs/img/`` shows only real changes.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

PREFIX = "perf-"
PERCENTILES = (("p50_ms", "p50", ":"), ("p95_ms", "p95", "--"), ("p99_ms", "p99", "-"))
# One colour per side of a comparison, the same in every plot.
COLOURS = {"bare": "#7f7f7f", "downloader": "#1f77b4", "system": "#1f77b4"}
LABELS = {"bare": "bare FastAPI", "downloader": "Downloader", "system": "whole system"}


def _style() -> AbstractContextManager[None]:
    """Text kept as text and a fixed hash salt: the same data gives the same SVG bytes."""
    return matplotlib.rc_context(
        {"svg.fonttype": "none", "svg.hashsalt": "fileserver-bench", "font.size": 9}
    )


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(6.4, 3.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return fig, ax


def _concurrency_axis(ax: Axes, levels: Sequence[int]) -> None:
    """Levels grow by factors, so a log axis with the measured levels as ticks."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(levels), [str(level) for level in levels])
    ax.minorticks_off()


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with _style():
        fig.savefig(path, format="svg", metadata={"Date": None})
    return path


def throughput(
    levels: Sequence[int],
    series: dict[str, Sequence[float]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    path: Path,
) -> Path:
    """Requests per second against concurrency, one line per side (``bare``, …)."""
    with _style():
        fig, ax = _figure(title, xlabel, ylabel)
        for side, values in series.items():
            ax.plot(levels, values, marker="o", color=COLOURS[side], label=LABELS[side])
        _concurrency_axis(ax, levels)
        ax.set_ylim(bottom=0)
        ax.legend()
        return _save(fig, path)


def latency(
    levels: Sequence[int],
    series: dict[str, Sequence[dict[str, float]]],
    *,
    title: str,
    xlabel: str,
    path: Path,
) -> Path:
    """p50/p95/p99 against concurrency: colour per side, line style per percentile."""
    with _style():
        fig, ax = _figure(title, xlabel, "latency (ms, log scale)")
        for side, figures in series.items():
            for key, name, style in PERCENTILES:
                ax.plot(
                    levels,
                    [f[key] for f in figures],
                    linestyle=style,
                    marker=".",
                    color=COLOURS[side],
                    label=f"{LABELS[side]} {name}",
                )
        _concurrency_axis(ax, levels)
        ax.set_yscale("log")
        ax.legend(fontsize=7, ncols=2)
        return _save(fig, path)


def cpu_shares(
    levels: Sequence[int],
    cores: dict[str, Sequence[float]],
    machine: Sequence[float],
    cpus: int,
    *,
    path: Path,
) -> Path:
    """Stacked CPU cores per process at each thread count, against the machine's cores and
    what the whole machine was busy with (other users' work included)."""
    with _style():
        fig, ax = _figure(
            "CPU per process under JMeter load (whole system)", "JMeter threads", "CPU cores used"
        )
        positions = range(len(levels))
        bottom = [0.0] * len(levels)
        colours = matplotlib.colormaps["tab20"]
        for n, (name, values) in enumerate(sorted(cores.items())):
            ax.bar(positions, values, bottom=bottom, label=name, color=colours(n % 20))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        ax.axhline(cpus, color="black", linewidth=1, linestyle="--", label=f"{cpus} CPUs")
        ax.plot(positions, machine, "kx", markersize=9, label="machine busy (all users)")
        ax.set_xticks(list(positions), [str(level) for level in levels])
        ax.set_ylim(0, cpus * 1.6)  # room for the legend above the bars
        ax.legend(fontsize=7, ncols=2, loc="upper left")
        return _save(fig, path)


def write_plots(results: dict[str, Any], out: Path) -> list[Path]:
    """Every plot the run has data for; returns their paths."""
    benchmarks = results["benchmarks"]
    written = []
    sweep = benchmarks.get("downloader", {}).get("figures", {}).get("sweep")
    if sweep:
        levels = [level["connections"] for level in sweep]
        sides = ("bare", "downloader")
        written.append(
            throughput(
                levels,
                {side: [level[side]["rps"] for level in sweep] for side in sides},
                title="Download endpoint throughput, 1 worker",
                xlabel="concurrent connections",
                ylabel="requests/s",
                path=out / f"{PREFIX}downloader-throughput.svg",
            )
        )
        written.append(
            latency(
                levels,
                {side: [level[side] for level in sweep] for side in sides},
                title="Download endpoint latency, 1 worker",
                xlabel="concurrent connections",
                path=out / f"{PREFIX}downloader-latency.svg",
            )
        )
    system = benchmarks.get("system_load", {}).get("figures", {}).get("levels")
    if system:
        threads = [level["threads"] for level in system]
        written.append(
            throughput(
                threads,
                {side: [level[side]["rps"] for level in system] for side in ("bare", "system")},
                title="End-to-end download URLs under JMeter",
                xlabel="JMeter threads",
                ylabel="samples/s",
                path=out / f"{PREFIX}system-throughput.svg",
            )
        )
        used = [level["system"]["cpu"] for level in system]
        names = sorted({name for cpu in used for name in cpu})
        cores: dict[str, Sequence[float]] = {
            n: [cpu.get(n, {}).get("cores", 0.0) for cpu in used] for n in names
        }
        written.append(
            cpu_shares(
                threads,
                cores,
                [level["system"]["machine_busy_cores"] for level in system],
                results["machine"]["cpus"],
                path=out / f"{PREFIX}system-cpu.svg",
            )
        )
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path(".state/bench/results.json"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    for path in write_plots(json.loads(args.results.read_text()), args.out):
        print(path)


if __name__ == "__main__":
    main()
