"""``fileserver check-consistency``: every discrepancy between the Uploader, Drive, the
Downloader's catalog and its statistics, as a table or JSON; exit 1 when there is one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fileserver.consistency.check import wait_converged
from fileserver.consistency.collect import CollectError, Endpoints
from fileserver.consistency.model import CheckResult, Truth
from fileserver.devstack.config import DevstackSettings
from fileserver.system.cluster import ClusterSystem, current_system

UNREADABLE = 2


def check_consistency(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    truth: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="JSON of the URLs clients received ({files, accounts, unsure}: "
            "{id: {downloads, bytes}}); without it the statistics are not compared",
        ),
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="keep checking up to this many seconds until consistent")
    ] = 0,
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster",
            help="also compare the operator's FileReplicas and DriveAccounts (up --cluster)",
        ),
    ] = False,
) -> None:
    """Compare the local system's sides; exit 0 if consistent, 1 if not, 2 if a side is down."""
    expected = Truth.from_json(json.loads(truth.read_text())) if truth else None
    state_dir = DevstackSettings().state_dir
    local = (state_dir / "system" / "secrets.json").is_file()
    if not (local or ClusterSystem.recorded(state_dir)):  # LocalSystem() would make one
        Console(stderr=True, soft_wrap=True).print(
            f"[red]no local system in {state_dir}:[/red] run fileserver up"
        )
        raise typer.Exit(UNREADABLE)
    try:
        endpoints = Endpoints.of(current_system(), cluster=cluster)
        outcome = wait_converged(endpoints, expected, within=wait)
    except CollectError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]cannot read a side:[/red] {exc}")
        raise typer.Exit(UNREADABLE) from exc
    result = outcome.result
    if as_json:
        typer.echo(json.dumps(result.to_json() | {"seconds": round(outcome.seconds, 2)}, indent=2))
    else:
        Console(soft_wrap=True).print(table(result))
    raise typer.Exit(0 if result.consistent else 1)


def table(result: CheckResult) -> Table | Text:
    """One row per discrepancy, titled with what was compared; one line when there is none."""
    sizes = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in result.sizes.items())
    if result.consistent:
        return Text(f"consistent: {sizes}", style="green")
    shown = Table(title=f"{len(result.discrepancies)} discrepancies ({sizes})")
    for column in ("kind", "subject", "detail"):
        shown.add_column(column, overflow="fold")
    for item in result.discrepancies:
        shown.add_row(item.kind.value, item.subject, item.detail)
    return shown
