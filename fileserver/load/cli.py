"""``fileserver load``: the JMeter plans against the local system, summarised."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fileserver.devstack.errors import DevstackError
from fileserver.load.plans import PLANS
from fileserver.load.runner import LoadSettings, PlanRun, plan_names, run_plans, running_system
from fileserver.system.system import LocalSystem

# Piped output (CI logs, `tee`) keeps the sampler names on one line.
console = Console(width=None if sys.stdout.isatty() else 140)


def load(
    plan: Annotated[
        str, typer.Option(help=f"all, or one of: {', '.join(PLANS)} (all runs them in order).")
    ] = "all",
    iterations: Annotated[int, typer.Option(min=1, help="Loops of every thread (n).")] = 1,
    threads: Annotated[int, typer.Option(min=1, help="Threads of every thread group.")] = 2,
    duration: Annotated[
        int, typer.Option(min=1, help="Upper bound of each thread group, in seconds.")
    ] = 600,
    ramp_up: Annotated[int, typer.Option(min=0, help="Seconds to start all threads.")] = 0,
    file_bytes: Annotated[int, typer.Option(min=1, help="Size of every uploaded file.")] = 4096,
    report: Annotated[bool, typer.Option(help="Also write JMeter's HTML dashboard.")] = True,
) -> None:
    """Run the load plans (bringing the local system up if needed); exit 1 on any failed sample.

    Results: .state/load/<timestamp>/<plan>.jtl, <plan>-report/ (HTML) and summary.json.
    """
    system = LocalSystem()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = system.stack.settings.state_dir / "load" / stamp
    settings = LoadSettings(iterations, threads, duration, ramp_up, file_bytes)
    try:
        names = plan_names(plan)
        with running_system(system) as started:
            if started:
                console.print(f"started for this run: {', '.join(started)}")
            runs = run_plans(system, names, settings, out, report=report)
    except DevstackError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    (out / "summary.json").write_text(
        json.dumps(
            {
                "settings": settings.properties(),
                "plans": [r.summary.as_json() | {"jmeter_exit": r.exit_code} for r in runs],
            },
            indent=2,
        )
    )
    for run in runs:
        _print(run)
    failed = sum(r.summary.failed for r in runs)
    broken = [r.plan for r in runs if r.exit_code != 0]
    console.print(f"results: {out}")
    if failed or broken:
        console.print(
            f"[red]{failed} failed samples[/red]"
            + (f"; JMeter failed on {', '.join(broken)}" if broken else "")
        )
        raise typer.Exit(1)
    console.print(f"[green]all {sum(r.summary.samples for r in runs)} samples passed[/green]")


def _print(run: PlanRun) -> None:
    s = run.summary
    table = Table(
        "sampler",
        "n",
        "err %",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        title=f"{s.plan}: {s.samples} samples in {s.seconds:.1f}s "
        f"({s.samples / s.seconds if s.seconds else 0:.1f}/s), {s.failed} failed",
    )
    for row in s.samplers:
        table.add_row(
            row.label,
            str(row.samples),
            f"{row.error_pct:.1f}",
            f"{row.throughput:.1f}",
            f"{row.p50_ms:.0f}",
            f"{row.p95_ms:.0f}",
            f"{row.p99_ms:.0f}",
            style="red" if row.failures else None,
        )
    console.print(table)
    for failure in s.failures[:10]:
        console.print(f"[red]✗[/red] {failure.label}: {failure.code} {failure.failure}")
