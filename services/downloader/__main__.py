"""Run the Downloader: ``python -m services.downloader [serve|migrate]``.

``serve`` (the default) runs uvicorn with host, port and workers from the settings, so that the
``fileserver`` command can start it as a process; ``migrate`` only brings the schema up to date.
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from services.downloader.config import get_settings
from services.downloader.db import migrate as run_migrations
from services.downloader.db import wait_for_database
from services.shared.serve import serve as serve_app

cli = typer.Typer(add_completion=False, help="fileserver Downloader")


@cli.callback(invoke_without_command=True)
def main(ctx: typer.Context) -> None:
    """Serve HTTP unless a command is given."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@cli.command()
def serve(
    port: Annotated[int | None, typer.Option(help="override the settings' port")] = None,
    workers: Annotated[int | None, typer.Option(help="override the settings' workers")] = None,
) -> None:
    """Migrate the schema once, then serve HTTP."""
    settings = get_settings()
    if settings.migrate_on_startup:
        # Once here rather than in each of several workers at the same time, once the database
        # answers: a crash would not be restarted under devReload's watchfiles.
        wait_for_database(settings)
        run_migrations(settings)
        os.environ["FILESERVER_DOWNLOADER_MIGRATE_ON_STARTUP"] = "false"
    serve_app(
        "services.downloader.main:create_app",
        host=settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        timeout_keep_alive=int(settings.keep_alive_seconds),
        # With several workers uvicorn kills one that does not answer its health check within
        # this time; a worker still importing on a loaded machine is not dead (5 s, the default,
        # was not enough at a load average of 14 on 2 CPUs).
        timeout_worker_healthcheck=60,
    )


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    run_migrations(get_settings())
    typer.echo("downloader schema is up to date")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    cli()
