"""Tables a person can read: files, accounts and the two reports, in decimal units (MB = 10^6
bytes, as the specification counts)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.filesize import decimal
from rich.table import Column, Table

from services.downloader.schemas import AccountFigures, DownloadTicket, FileFigures
from services.shared.events import ReplicaState
from services.uploader.schemas import AccountRead, FileRead


def _id() -> Column:
    """Ids are what a person copies into the next command: never shortened, whatever the width."""
    return Column("id", no_wrap=True, min_width=32)


STATUS_STYLE = {"uploaded": "green", "replicating": "yellow", "failed": "red", "deleting": "dim"}


def files_table(files: Iterable[FileRead], title: str | None = None) -> Table:
    table = Table(_id(), "name", "size", "status", "replicas", "sha256", title=title)
    for f in files:
        done = sum(r.state == ReplicaState.READY for r in f.replicas)
        style = STATUS_STYLE.get(f.status.value, "")
        table.add_row(
            f.id,
            f.name,
            decimal(f.size),
            f"[{style}]{f.status.value}[/]" if style else f.status.value,
            f"{done}/{len(f.replicas)}",
            (f.sha256 or "")[:12],
        )
    return table


def file_detail(f: FileRead) -> Table:
    table = Table("account", "replica", "drive file id", "attempts", "error", title=f.name)
    for r in f.replicas:
        table.add_row(
            r.account_id, r.state.value, r.drive_file_id or "", str(r.attempts), r.error or ""
        )
    table.caption = (
        f"id {f.id} · {decimal(f.size)} · {f.content_type} · {f.status.value}"
        + (f" ({f.failure_reason})" if f.failure_reason else "")
        + f" · sha256 {f.sha256}"
    )
    return table


def accounts_table(accounts: Iterable[AccountRead]) -> Table:
    table = Table(_id(), Column("email", no_wrap=True), "name", "daily budget", "enabled", "health")
    for a in accounts:
        table.add_row(
            a.id,
            a.email,
            a.display_name,
            decimal(a.daily_budget_bytes),
            "yes" if a.enabled else "no" + (" (draining)" if a.draining else ""),
            a.health.value + (f": {a.health_reason}" if a.health_reason else ""),
        )
    return table


def files_report_table(rows: Iterable[FileFigures], title: str) -> Table:
    table = Table(
        _id(), "name", "size", "status", "downloads", "today", "MB today", "MB total", title=title
    )
    for r in rows:
        table.add_row(
            r.id,
            r.name,
            decimal(r.size),
            r.status,
            str(r.downloads),
            str(r.downloads_today),
            f"{r.mb_today:.3f}",
            f"{r.mb_total:.3f}",
        )
    return table


def accounts_report_table(rows: Iterable[AccountFigures], title: str) -> Table:
    table = Table(
        Column("email", no_wrap=True),
        "downloads",
        "today",
        "MB today",
        "MB total",
        "issued today",
        "left today",
        title=title,
    )
    for r in rows:
        table.add_row(
            r.email,
            str(r.downloads),
            str(r.downloads_today),
            f"{r.mb_today:.3f}",
            f"{r.mb_total:.3f}",
            decimal(r.issued_today),
            decimal(r.remaining_today),
        )
    return table


def tickets_table(tickets: Iterable[DownloadTicket], emails: dict[str, str]) -> Table:
    table = Table("bytes", "account", "charged")
    for t in tickets:
        table.add_row(
            f"{t.offset}-{t.offset + t.length - 1}",
            emails.get(t.account_id, t.account_id),
            decimal(t.charged_bytes),
        )
    return table
