"""Entry point of the ``fileserver`` command; each concern registers its own sub-command."""

from __future__ import annotations

import typer

from fileserver.devstack.cli import dev_app

app = typer.Typer(no_args_is_help=True, help="fileserver: file distribution over a Drive pool.")
app.add_typer(dev_app, name="dev")
app.command("plan")(__import__("services.planner.cli", fromlist=["plan"]).plan)
