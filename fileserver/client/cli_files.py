"""``fileserver files upload|list|show|delete|wait|download``.

``upload`` streams one file (``--resumable`` through an upload session that ``--resume`` can
continue after a failure) or, given several paths, sends them as one all-or-nothing batch.
``download --parallel N`` fetches N byte ranges of one file at once from the accounts holding
it, each account charged only its range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.filesize import decimal

from fileserver.client import transfer
from fileserver.client.api import FileserverClient
from fileserver.client.cli_common import (
    JsonFlag,
    client,
    connection,
    err,
    out,
    print_json,
    progress,
)
from fileserver.client.errors import ClientError, ExitCode
from fileserver.client.render import file_detail, files_table, tickets_table
from services.shared.events import FileStatus
from services.uploader.schemas import FileRead

files_app = typer.Typer(
    no_args_is_help=True, help="Upload, inspect, delete and download files.", callback=connection
)

Timeout = Annotated[float, typer.Option(min=0, help="seconds to wait for 'uploaded'")]


def _upload_one(
    api: FileserverClient,
    path: Path,
    *,
    name: str | None,
    content_type: str | None,
    resumable: bool,
    resume: str | None,
) -> FileRead:
    if not (resumable or resume):
        with progress(f"upload {path.name}", path.stat().st_size) as advance:
            return transfer.upload_path(
                api, path, name=name, content_type=content_type, advance=advance
            )
    if resume is not None:
        session = api.get_session(resume)
    else:
        session = transfer.open_session(api, path, name=name, content_type=content_type)
    err.print(
        f"upload session {session.id}; if interrupted: "
        f"fileserver files upload --resume {session.id} {path}",
        highlight=False,
        soft_wrap=True,
    )
    with progress(f"upload {path.name}", session.size) as advance:
        return transfer.upload_resumable(api, path, session, advance=advance)


@files_app.command()
def upload(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    name: Annotated[str | None, typer.Option(help="name on the server (one file only)")] = None,
    content_type: Annotated[str | None, typer.Option(help="default: guessed from the name")] = None,
    resumable: Annotated[bool, typer.Option(help="upload through a resumable session")] = False,
    resume: Annotated[
        str | None, typer.Option(metavar="SESSION", help="continue this upload session")
    ] = None,
    wait: Annotated[bool, typer.Option(help="wait until replicated ('uploaded')")] = False,
    timeout: Timeout = 600,
    as_json: JsonFlag = False,
) -> None:
    """Upload one file, or several as one all-or-nothing batch."""
    with client(ctx) as api:
        if len(paths) > 1:
            if name or content_type or resumable or resume:
                raise ClientError(
                    "--name, --content-type, --resumable and --resume take a single file",
                    ExitCode.USAGE,
                )
            total = sum(p.stat().st_size for p in paths)
            with progress(f"upload {len(paths)} files", total) as advance:
                files = transfer.upload_batch(api, paths, advance=advance)
        else:
            files = [
                _upload_one(
                    api,
                    paths[0],
                    name=name,
                    content_type=content_type,
                    resumable=resumable,
                    resume=resume,
                )
            ]
        if wait:
            files = [api.wait_file(f.id, timeout=timeout) for f in files]
    _show_files(files, as_json)
    if any(f.status is FileStatus.FAILED for f in files):
        raise typer.Exit(ExitCode.NOT_READY)


@files_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[FileStatus | None, typer.Option(help="only files in this state")] = None,
    prefix: Annotated[str | None, typer.Option(help="only names starting with this")] = None,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List files, newest first."""
    with client(ctx) as api:
        page = api.list_files(status=status, name_prefix=prefix, offset=offset, limit=limit)
    if as_json:
        print_json(page)
        return
    out.print(files_table(page.items))
    out.print(f"{len(page.items)} of {page.total} files")


@files_app.command()
def show(ctx: typer.Context, file_id: str, as_json: JsonFlag = False) -> None:
    """Show one file and its replicas."""
    with client(ctx) as api:
        file = api.get_file(file_id)
    print_json(file) if as_json else out.print(file_detail(file))


@files_app.command()
def delete(ctx: typer.Context, file_ids: Annotated[list[str], typer.Argument()]) -> None:
    """Delete files: out of the Downloader's choices first, then off every account."""
    with client(ctx) as api:
        for file_id in file_ids:
            file = api.delete_file(file_id)
            out.print(f"{file.id} {file.name}: {file.status.value}", highlight=False)


@files_app.command()
def wait(
    ctx: typer.Context,
    file_ids: Annotated[list[str], typer.Argument()],
    timeout: Timeout = 600,
    as_json: JsonFlag = False,
) -> None:
    """Wait until files are 'uploaded' (exit 5 if one failed or the timeout passed)."""
    with client(ctx) as api:
        files = [api.wait_file(file_id, timeout=timeout) for file_id in file_ids]
    _show_files(files, as_json)
    if any(f.status is FileStatus.FAILED for f in files):
        raise typer.Exit(ExitCode.NOT_READY)


@files_app.command()
def download(
    ctx: typer.Context,
    file_id: str,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="file or folder (default: ./<name>)")
    ] = None,
    parallel: Annotated[
        int, typer.Option(min=1, max=32, help="byte ranges fetched at once, from several accounts")
    ] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Download a file through the pool and verify its sha256."""
    with client(ctx) as api:
        file = api.get_file(file_id)
        target = output or Path(file.name)
        if target.is_dir():
            target = target / file.name
        with progress(f"download {file.name}", file.size) as advance:
            tickets = transfer.download(api, file, target, parallel=parallel, advance=advance)
        emails = {a.id: a.email for a in api.all_accounts()} if api.config.uploader_token else {}
    if as_json:
        print_json(
            {
                "path": str(target),
                "sha256": file.sha256,
                "size": file.size,
                "ranges": [t.model_dump(mode="json") for t in tickets],
            }
        )
        return
    out.print(tickets_table(tickets, emails))
    out.print(f"saved {target} ({decimal(file.size)}), sha256 verified", highlight=False)


def _show_files(files: list[FileRead], as_json: bool) -> None:
    if as_json:
        print_json(files)
    else:
        out.print(files_table(files))
