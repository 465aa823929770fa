"""``fileserver reports files|accounts``: the Downloader's precomputed figures, as a table,
CSV (streamed: any size) or JSON."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from fileserver.client.api import ReportKind
from fileserver.client.cli_common import client, connection, out, print_json
from fileserver.client.render import accounts_report_table, files_report_table

reports_app = typer.Typer(
    no_args_is_help=True, help="Per-file and per-account figures (Downloader).", callback=connection
)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


FormatOpt = Annotated[Format, typer.Option("--format", "-f")]
Sort = Annotated[str | None, typer.Option(help="column, '-' first for descending")]
Limit = Annotated[int | None, typer.Option(min=1, max=1000, help="rows (CSV default: all)")]
Offset = Annotated[int, typer.Option(min=0)]


def _report(
    ctx: typer.Context,
    kind: ReportKind,
    fmt: Format,
    sort: str | None,
    limit: int | None,
    offset: int,
) -> None:
    with client(ctx) as api:
        if fmt is Format.CSV:
            for text in api.report_csv(kind, sort=sort, limit=limit, offset=offset):
                typer.echo(text, nl=False)
            return
        if kind == "files":
            files = api.files_report(sort=sort, limit=limit, offset=offset)
            title = f"files on {files.day} ({len(files.items)} of {files.total})"
            table, report = files_report_table(files.items, title), files.model_dump(mode="json")
        else:
            accounts = api.accounts_report(sort=sort, limit=limit, offset=offset)
            title = f"accounts on {accounts.day} ({len(accounts.items)} of {accounts.total})"
            table = accounts_report_table(accounts.items, title)
            report = accounts.model_dump(mode="json")
    print_json(report) if fmt is Format.JSON else out.print(table)


@reports_app.command("files")
def files(
    ctx: typer.Context,
    fmt: FormatOpt = Format.TABLE,
    sort: Sort = None,
    limit: Limit = None,
    offset: Offset = 0,
) -> None:
    """Every file: downloads, MB today, MB in total."""
    _report(ctx, "files", fmt, sort, limit, offset)


@reports_app.command("accounts")
def accounts(
    ctx: typer.Context,
    fmt: FormatOpt = Format.TABLE,
    sort: Sort = None,
    limit: Limit = None,
    offset: Offset = 0,
) -> None:
    """Every account: downloads, MB today, MB in total, budget left today."""
    _report(ctx, "accounts", fmt, sort, limit, offset)
