"""The generated part of docs/performance.md: tables and plots from a run's ``results.json``.

    uv run python -m bench.report [--results .state/bench/results.json]
    uv run python -m bench [--quick] --write-docs          # run, then the same

Rewrites only what lies between ``<!-- bench:results:begin -->`` and ``<!-- bench:results:end
-->`` in docs/performance.md (the hand-written sections around it stay as they are) and draws
the plots into docs/img/ (bench/plots.py). Every figure comes from the results file: the run's
date, whether it was quick, the machine and its load before and after, and per benchmark its
ratio to the baseline measured in the same run with the absolute figures alongside.
"""

from __future__ import annotations

import argparse
import json
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.plots import write_plots
from bench.system_load import bottleneck

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "performance.md"
IMG = ROOT / "docs" / "img"
BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"
WIDTH = 100  # the docs' prose width; tables stay one line a row


def _ratio(ratio: float | dict[str, float] | None) -> str:
    if ratio is None:
        return "—"
    if isinstance(ratio, dict):
        return ", ".join(f"{phase} **{value:.2f}**" for phase, value in ratio.items())
    return f"**{ratio:.2f}**"


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def _runs(figures: dict[str, Any]) -> tuple[str, str]:
    """drive_upload_memory and uploader_upload: one run measured, one baseline."""
    size = f"{figures['size_mib']} MiB, {figures['chunk_mib']} MiB chunks"
    parts = []
    for run in figures["runs"]:
        rss = run.get("rss_growth_mib")
        grown = f", RSS +{rss:.1f} MiB" if rss is not None and "baseline" not in run["name"] else ""
        parts.append(f"{run['name']} {run['mib_per_s']:.1f} MiB/s{grown}")
    return size, "; ".join(parts)


def _downloader(figures: dict[str, Any]) -> tuple[str, str]:
    one = figures["workers"]["1"]
    size = f"{figures.get('connections', 64)} connections, 1 and 2 workers"
    absolute = (
        f"1 worker: Downloader {one['downloader']['rps']:.0f} req/s, "
        f"bare {one['bare']['rps']:.0f} req/s; 2 workers: ratio "
        f"{figures['workers']['2']['ratio']:.2f}; overcommitted accounts "
        f"{figures['overcommitted_accounts']}; pool used {figures['utilisation']['downloader']:.1%}"
        f" (naive {figures['utilisation']['naive']:.1%})"
    )
    return size, absolute


def _operator(figures: dict[str, Any]) -> tuple[str, str]:
    phases = [(name, f) for name, f in figures.items() if isinstance(f, dict) and "ratio" in f]
    size = ", ".join(f"{f['objects']} {name}" for name, f in phases)
    absolute = "; ".join(
        f"{name} {f['objects_per_s']:.1f}/s (raw writes {f['baseline']['objects_per_s']:.1f}/s)"
        f"{'' if f.get('converged') else ', not converged'}"
        for name, f in phases
    )
    return size, absolute


def _placement(figures: dict[str, Any]) -> tuple[str, str]:
    day, totals = figures["day"], figures["summary"]
    size = (
        f"{len(figures['runs'])} days, {day['accounts']} accounts, {day['files']} files, "
        f"demand {day['load']:.0%} of the pool's budget"
    )
    absolute = "; ".join(
        f"{name} serves {totals[name]['served_share_mean']:.1%}, copies "
        f"{totals[name]['copies_gb_mean']:.0f} GB"
        for name in ("demand", "uniform", "naive")
    )
    return size, absolute


def _system_load(figures: dict[str, Any]) -> tuple[str, str]:
    top = figures["levels"][-1]
    size = f"{', '.join(str(level['threads']) for level in figures['levels'])} JMeter threads"
    absolute = (
        f"{top['threads']} threads: system {top['system']['rps']:.0f} samples/s, "
        f"bare {top['bare']['rps']:.0f} samples/s"
    )
    return size, absolute


ABSOLUTE: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "drive_upload_memory": _runs,
    "uploader_upload": _runs,
    "downloader": _downloader,
    "operator": _operator,
    "placement": _placement,
    "system_load": _system_load,
}


def summary_table(benchmarks: dict[str, Any]) -> list[str]:
    """One row per benchmark: ratio, baseline, absolute figures, size, wall time."""
    rows = [
        "| benchmark | ratio | baseline (same run) | absolute | size | time |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, entry in benchmarks.items():
        if entry["status"] == "ok":
            size, absolute = ABSOLUTE[name](entry["figures"])
            ratio = _ratio(entry["ratio"])
        else:
            why = entry.get("reason") or f"exit code {entry.get('exit_code')}, see its log"
            size, absolute, ratio = "—", f"{entry['status']}: {why}", "—"
        seconds = f"{entry['seconds']:.0f} s" if "seconds" in entry else "—"
        rows.append(f"| {name} | {ratio} | {entry['baseline']} | {absolute} | {size} | {seconds} |")
    return rows


def downloader_tables(figures: dict[str, Any]) -> list[str]:
    """The sweep: requests/s and latency percentiles of both servers per concurrency level."""
    rows = [
        "| connections | bare req/s | Downloader req/s | **ratio** | bare p50 / p95 / p99 ms "
        "| Downloader p50 / p95 / p99 ms | CPU µs/req bare / Downloader |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for level in figures["sweep"]:
        bare, ours = level["bare"], level["downloader"]
        rows.append(
            f"| {level['connections']} | {bare['rps']:.0f} | {ours['rps']:.0f} "
            f"| **{level['ratio']:.2f}** | {_percentiles(bare)} | {_percentiles(ours)} "
            f"| {bare['cpu_us_per_request']:.0f} / {ours['cpu_us_per_request']:.0f} |"
        )
    return rows


def _percentiles(figures: dict[str, float]) -> str:
    return " / ".join(f"{figures[key]:.1f}" for key in ("p50_ms", "p95_ms", "p99_ms"))


def system_tables(figures: dict[str, Any], cpus: int) -> list[str]:
    """Throughput per thread count, then the CPU each process used, then the bottleneck
    (derived from the figures by the benchmark's own rule, so the wording can improve)."""
    levels = figures["levels"]
    found = [bottleneck(level, cpus) for level in levels]
    rows = [
        "| JMeter threads | bare samples/s | system samples/s | **ratio** | system p50 / p95 / "
        "p99 ms | errors | CPU µs/sample bare / Downloader | machine busy (cores, everyone's) "
        "| saturated | at this CPU per sample |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for level, saturated in zip(levels, found, strict=True):
        base, ours = level["bare"], level["system"]
        bare_cpu = base["cpu"]["bare"]["cores"] / base["rps"] * 1e6
        our_cpu = ours["cpu"]["downloader"]["cores"] / ours["rps"] * 1e6
        rows.append(
            f"| {level['threads']} | {base['rps']:.0f} | {ours['rps']:.0f} "
            f"| **{level['ratio']:.2f}** | {_percentiles(ours)} | {ours['errors']} "
            f"| {bare_cpu:.0f} / {our_cpu:.0f} | {ours['machine_busy_cores']:.2f} "
            f"| {saturated['observed']} | {saturated['projected']} |"
        )
    names = sorted({name for level in levels for name in level["system"]["cpu"]})
    rows += [
        "",
        "CPU cores used per process (its worker processes included) while JMeter ran against "
        "the system:",
        "",
        "| process | " + " | ".join(f"{level['threads']} threads" for level in levels) + " |",
        "| --- |" + " --- |" * len(levels),
    ]
    for name in names:
        cells = [level["system"]["cpu"].get(name, {}).get("cores", 0.0) for level in levels]
        rows.append(f"| {name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
    stated = f"**Bottleneck at {levels[-1]['threads']} threads: {found[-1]['statement']}.**"
    rows += ["", textwrap.fill(stated, WIDTH)]
    return rows


def render(results: dict[str, Any], plots: list[Path], doc: Path) -> str:
    """The block's text (markers excluded), links to ``plots`` relative to ``doc``."""
    m = results["machine"]
    kind = (
        "a **quick** run (`--quick`: small sizes, which checks that everything runs; its ratios "
        "are indicative only, the sections below hold the full runs)"
        if results["quick"]
        else "a full run"
    )
    command = "uv run python -m bench" + (" --quick" if results["quick"] else "") + " --write-docs"
    lines = [
        "<!-- Generated by bench/report.py from .state/bench/results.json: edit that. -->",
        "",
        textwrap.fill(
            f"Generated from {kind}, started {results['started_at']}, on {m['cpus']} × "
            f"{m['cpu_model']}, {m['memory_gib']} GiB, Python {m['python']}; load average "
            f"(1 / 5 / 15 min) {_load(m['load_average'])} before and "
            f"{_load(m['load_average_after'])} after: a machine shared with other work.",
            WIDTH,
        ),
        "",
        "```sh",
        command,
        "```",
        "",
        *summary_table(results["benchmarks"]),
    ]
    figures = {
        name: entry["figures"]
        for name, entry in results["benchmarks"].items()
        if entry["status"] == "ok"
    }
    links = {p.stem: os.path.relpath(p, doc.parent) for p in plots}
    if figures.get("downloader", {}).get("sweep"):
        lines += [
            "",
            "Downloader against the bare endpoint by concurrency (one worker each):",
            "",
            *downloader_tables(figures["downloader"]),
        ]
        lines += _images(links, "perf-downloader-throughput", "perf-downloader-latency")
    if "system_load" in figures:
        lines += [
            "",
            textwrap.fill(
                "The whole system under JMeter (download URLs in a loop; baseline: the same "
                "plan against the bare endpoint):",
                WIDTH,
            ),
            "",
            *system_tables(figures["system_load"], m["cpus"]),
        ]
        lines += _images(links, "perf-system-throughput", "perf-system-cpu")
    return "\n".join(lines)


def _images(links: dict[str, str], *stems: str) -> list[str]:
    return ["", " ".join(f"![{stem}]({links[stem]})" for stem in stems if stem in links)]


def replace_block(text: str, block: str) -> str:
    """``text`` with the generated block replaced; the markers must be there once each."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"expected one {BEGIN} … {END} block")
    head, rest = text.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def write_docs(results: dict[str, Any], doc: Path = DOC, img: Path = IMG) -> list[Path]:
    """Draw the plots and rewrite the generated block of ``doc``; returns the files written."""
    plots = write_plots(results, img)
    doc.write_text(replace_block(doc.read_text(), render(results, plots, doc)))
    return [doc, *plots]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / ".state" / "bench" / "results.json")
    args = parser.parse_args()
    for path in write_docs(json.loads(args.results.read_text())):
        print(path)


if __name__ == "__main__":
    main()
