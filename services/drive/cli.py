"""``fileserver drive``: check an account's credentials, or run the Drive v3 emulator."""

from __future__ import annotations

import asyncio
from datetime import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.drive.config import DriveSettings

drive_app = typer.Typer(
    no_args_is_help=True, help="Google Drive: check credentials, run the Drive v3 emulator."
)
console = Console()


@drive_app.command()
def check(
    credentials: Annotated[
        Path,
        typer.Option(
            "--credentials",
            exists=True,
            dir_okay=False,
            readable=True,
            help="OAuth authorized_user JSON, service-account key, or emulator token JSON",
        ),
    ],
    endpoint: Annotated[
        str | None,
        typer.Option(help="Drive API root URL (default: Google's, or FILESERVER_DRIVE_ROOT_URL)"),
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="user a service account impersonates (domain-wide delegation)"),
    ] = None,
) -> None:
    """Try the credentials against Drive: identity, quota, a small upload, download, delete."""
    from services.drive.check import run_check, usable  # the emulator command does without

    settings = DriveSettings() if endpoint is None else DriveSettings(root_url=endpoint)
    console.print(f"Checking {credentials} against {settings.root_url}")
    steps = asyncio.run(run_check(credentials, settings, subject=subject))
    table = Table("step", "result", "detail")
    for step in steps:
        table.add_row(step.name, "[green]ok[/]" if step.ok else "[red]FAILED[/]", step.detail)
    console.print(table)
    works = usable(steps)
    console.print("[green]These credentials work.[/]" if works else "[red]Not usable.[/]")
    raise typer.Exit(0 if works else 1)


@drive_app.command()
def emulator(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="files and SQLite state")] = None,
    public_url: Annotated[str | None, typer.Option(help="root URL clients use")] = None,
    dev_mode: Annotated[bool, typer.Option(help="allow the well-known admin token")] = False,
    download_budget: Annotated[int | None, typer.Option(help="bytes/day per account")] = None,
    upload_budget: Annotated[int | None, typer.Option(help="bytes/day per account")] = None,
    storage: Annotated[int | None, typer.Option(help="bytes of storage per account")] = None,
    requests_per_minute: Annotated[int | None, typer.Option(help="per account")] = None,
    file_cap: Annotated[int | None, typer.Option(help="bytes/day per file before a lock")] = None,
    file_lock_seconds: Annotated[float | None, typer.Option(help="how long a lock lasts")] = None,
    uc_scan_threshold: Annotated[int | None, typer.Option(help="bytes; uc scan page above")] = None,
    rollover: Annotated[str | None, typer.Option(help="HH:MM UTC the ledger resets")] = None,
    fault_seed: Annotated[int | None, typer.Option(help="seed of fault injection")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
) -> None:
    """Run the Drive v3 emulator (options override FILESERVER_DRIVE_EMULATOR_* variables)."""
    from services.drive_emulator.config import EmulatorSettings, get_settings
    from services.drive_emulator.main import run

    base = get_settings() if not dev_mode else EmulatorSettings(dev_mode=True)
    limits = {
        "download_bytes_per_day": download_budget,
        "upload_bytes_per_day": upload_budget,
        "storage_bytes": storage,
        "requests_per_minute": requests_per_minute,
        "file_download_bytes_per_day": file_cap,
    }
    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "data_dir": data_dir,
        "public_url": public_url,
        "file_lock_seconds": file_lock_seconds,
        "uc_scan_threshold_bytes": uc_scan_threshold,
        "rollover_utc": time.fromisoformat(rollover) if rollover else None,
        "fault_seed": fault_seed,
        "limits": base.limits.model_copy(
            update={key: value for key, value in limits.items() if value is not None}
        ),
    }
    settings = EmulatorSettings.model_validate(
        {
            **base.model_dump(),
            **{key: value for key, value in overrides.items() if value is not None},
        }
    )
    run(settings, log_level=log_level)
