"""Entry point of the ``fileserver`` command; each concern registers its own sub-command."""

from __future__ import annotations

import typer

from fileserver.client.cli_accounts import accounts_app
from fileserver.client.cli_files import files_app
from fileserver.client.cli_reports import reports_app
from fileserver.consistency.cli import check_consistency
from fileserver.demo import demo
from fileserver.devstack.cli import dev_app
from fileserver.load.cli import load
from fileserver.system import cli as system_cli
from services.drive.cli import drive_app
from services.planner.cli import plan

app = typer.Typer(no_args_is_help=True, help="fileserver: file distribution over a Drive pool.")
app.command()(system_cli.up)
app.command()(system_cli.down)
app.command()(system_cli.status)
app.command()(system_cli.logs)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(
    system_cli.skaffold
)
app.add_typer(dev_app, name="dev")
app.add_typer(drive_app, name="drive")
app.command("plan")(plan)
app.add_typer(accounts_app, name="accounts")
app.add_typer(files_app, name="files")
app.add_typer(reports_app, name="reports")
app.command()(demo)
app.command()(load)
app.command("check-consistency")(check_consistency)
