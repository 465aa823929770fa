"""What every client sub-command shares: connection flags, error handling, output, progress.

Data goes to stdout (tables for people, ``--json``/CSV for scripts); progress bars and error
messages go to stderr, and progress bars only when stderr is a terminal, so piped output is
exactly the data. Every failure is one ``error: …`` line and a documented exit code.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from fileserver.client.api import FileserverClient
from fileserver.client.config import ClientConfig
from fileserver.client.errors import ClientError
from fileserver.client.transfer import Advance

out = Console(soft_wrap=True)
err = Console(stderr=True)
if not out.is_terminal:  # piped tables end up in logs and pagers: do not squeeze them to 80
    out.width = 160

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def connection(
    ctx: typer.Context,
    uploader_url: Annotated[
        str | None, typer.Option(help="Uploader API URL [env FILESERVER_URL_UPLOADER]")
    ] = None,
    downloader_url: Annotated[
        str | None, typer.Option(help="Downloader API URL [env FILESERVER_URL_DOWNLOADER]")
    ] = None,
    uploader_token: Annotated[
        str | None, typer.Option(help="Uploader admin token [env FILESERVER_TOKEN_UPLOADER]")
    ] = None,
    downloader_token: Annotated[
        str | None,
        typer.Option(help="Downloader admin token [env FILESERVER_TOKEN_DOWNLOADER]"),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML config file [env FILESERVER_CONFIG; ~/.config/fileserver/config.toml]"
        ),
    ] = None,
) -> None:
    """Where the services are; without flags: env, config file, then the local system."""
    ctx.obj = {
        "uploader_url": uploader_url,
        "downloader_url": downloader_url,
        "uploader_token": uploader_token,
        "downloader_token": downloader_token,
        "config_file": config,
    }


@contextlib.contextmanager
def failing_cleanly() -> Iterator[None]:
    """Turn a ``ClientError`` into its one-line message and exit code."""
    try:
        yield
    except ClientError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(exc.code) from exc


@contextlib.contextmanager
def client(ctx: typer.Context) -> Iterator[FileserverClient]:
    """A client configured from the sub-app's flags, inside ``failing_cleanly``."""
    with failing_cleanly():
        config = ClientConfig.resolve(**(ctx.obj or {}))
        with FileserverClient(config) as connected:
            yield connected


@contextlib.contextmanager
def progress(description: str, total: int | None) -> Iterator[Advance]:
    """A byte progress bar on stderr when it is a terminal; silent otherwise."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def print_json(data: BaseModel | Sequence[BaseModel] | dict[str, Any]) -> None:
    if isinstance(data, BaseModel):
        plain: Any = data.model_dump(mode="json")
    elif isinstance(data, Sequence):
        plain = [d.model_dump(mode="json") for d in data]
    else:
        plain = data
    typer.echo(json.dumps(plain, indent=2))
