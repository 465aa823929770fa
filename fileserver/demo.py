"""``fileserver demo``: show a running system doing its job, end to end, in one command.

It ensures the demo Drive accounts, uploads a few files (one of several hundred MB, generated
on the fly and streamed: nothing is held in memory), waits for them to be ``uploaded``, asks
for download URLs repeatedly to show the round robin across accounts, downloads the bytes
(the big file in parallel ranges from several accounts) verifying their sha256, and prints the
per-file and per-account reports. Everything goes through the public APIs, like any client.
"""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.filesize import decimal
from rich.table import Table
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from fileserver.client import transfer
from fileserver.client.api import FileserverClient
from fileserver.client.cli_common import failing_cleanly, out, progress
from fileserver.client.config import ClientConfig
from fileserver.client.errors import ClientError
from fileserver.client.render import (
    accounts_report_table,
    files_report_table,
    files_table,
    tickets_table,
)
from fileserver.devstack.errors import DevstackError
from fileserver.system.accounts import ensure_demo_accounts
from fileserver.system.cluster import current_system
from services.downloader.schemas import FileFigures
from services.uploader.schemas import FileRead

MB = 10**6
HELLO = b"hello from fileserver\n"


def generated(size: int, seed: int) -> Iterator[bytes]:
    """``size`` reproducible pseudo-random bytes, a chunk at a time."""
    rng = random.Random(seed)  # noqa: S311  (test data, not a secret)
    left = size
    while left > 0:
        chunk = rng.randbytes(min(transfer.CHUNK, left))
        left -= len(chunk)
        yield chunk


def demo(
    big_mb: Annotated[int, typer.Option(min=1, help="size of the big file, in MB")] = 300,
    fetches: Annotated[int, typer.Option(min=1, help="download URLs to ask for")] = 6,
    accounts: Annotated[int | None, typer.Option(min=1, help="demo accounts to ensure")] = None,
    parallel: Annotated[int, typer.Option(min=1, max=32, help="ranges of the big file")] = 3,
    timeout: Annotated[float, typer.Option(help="seconds to wait for replication")] = 900,
) -> None:
    """On a running system: upload, replicate, rotate, download, verify, report."""
    with failing_cleanly():
        system = current_system()
        if not all(s.ready for s in system.status()):
            raise ClientError("the system is not running (or not healthy): run `fileserver up`")
        count = accounts or system.settings.demo_accounts
        try:
            emails = ensure_demo_accounts(system, count, system.settings.demo_budget_bytes)
        except DevstackError as exc:
            raise ClientError(str(exc)) from exc
        out.print(f"[bold]1. accounts[/]: {len(emails)} demo Drive accounts in the pool")
        with FileserverClient(ClientConfig.resolve()) as api:
            _run(api, big_mb=big_mb, fetches=fetches, parallel=parallel, timeout=timeout)


def _run(
    api: FileserverClient, *, big_mb: int, fetches: int, parallel: int, timeout: float
) -> None:
    plan: list[tuple[str, int, str]] = [
        ("demo-hello.txt", len(HELLO), "text/plain"),
        ("demo-4mb.bin", 4 * MB, "application/octet-stream"),
        (f"demo-{big_mb}mb.bin", big_mb * MB, "application/octet-stream"),
    ]
    files: list[FileRead] = []
    for name, size, content_type in plan:
        chunks = iter([HELLO]) if name.endswith(".txt") else generated(size, seed=size)
        with progress(f"upload {name}", size) as advance:
            files.append(
                transfer.upload_stream(
                    api, chunks, name=name, size=size, content_type=content_type, advance=advance
                )
            )
    out.print("[bold]2. uploaded[/] (the Uploader answers at once, then replicates):")
    out.print(files_table(files))
    with out.status("waiting for every replica …"):
        files = [api.wait_file(f.id, timeout=timeout) for f in files]
    out.print("[bold]3. replicated[/] on every account:")
    out.print(files_table(files))
    if any(f.status != "uploaded" for f in files):
        raise ClientError(
            "replication failed: "
            + "; ".join(f"{f.name}: {f.failure_reason}" for f in files if f.failure_reason)
        )

    emails = {a.id: a.email for a in api.all_accounts()}
    hello = files[0]
    with out.status("waiting until the Downloader has learned every replica …"):
        api.wait_rotation(hello.id, accounts=len(hello.replicas), timeout=60)
    served = [api.ticket(hello.id) for _ in range(fetches)]
    table = Table("#", "account", "download URL", title=f"{fetches} URLs for {hello.name}")
    for i, ticket in enumerate(served, 1):
        table.add_row(str(i), emails.get(ticket.account_id, ticket.account_id), ticket.url)
    out.print("[bold]4. rotation[/]: each request gets the next account with budget")
    out.print(table)
    spread = Counter(emails.get(t.account_id, t.account_id) for t in served)
    out.print(
        f"served by {len(spread)} accounts: "
        + ", ".join(f"{e} ×{n}" for e, n in sorted(spread.items()))
    )

    out.print("[bold]5. downloads[/], checked against the sha256 recorded at upload:")
    with tempfile.TemporaryDirectory(prefix="fileserver-demo-") as tmp:
        for file in files:
            ways = parallel if file is files[-1] else 1
            with progress(f"download {file.name}", file.size) as advance:
                tickets = transfer.download(
                    api, file, Path(tmp) / file.name, parallel=ways, advance=advance
                )
            out.print(tickets_table(tickets, emails))
            out.print(
                f"{file.name}: {decimal(file.size)}, sha256 {file.sha256} verified", highlight=False
            )

    _reports(api, files, fetches)


def _reports(api: FileserverClient, files: list[FileRead], fetches: int) -> None:
    """Print the reports once the Stats service has counted this run's downloads (it works
    from a queue, so the figures trail the requests by a moment)."""
    ours = {f.id for f in files}
    wanted = {f.id: 1 for f in files} | {files[0].id: fetches + 1}

    def counted() -> list[FileFigures]:
        rows = api.files_report(sort="-bytes_total", limit=1000).items
        return [r for r in rows if r.id in ours]

    try:
        rows = Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.5),
            retry=retry_if_result(
                lambda rows: sum(r.downloads >= wanted[r.id] for r in rows) < len(wanted)
            ),
        )(counted)
    except RetryError as exc:
        rows = exc.last_attempt.result()
        out.print("[yellow]the Stats service has not counted every download yet[/]")
    out.print("[bold]6. reports[/] (precomputed by the Stats service):")
    out.print(files_report_table(rows, "this demo's files"))
    out.print(accounts_report_table(api.accounts_report(limit=1000).items, "accounts"))
    out.print("[green]demo complete[/]: uploaded, replicated, rotated, downloaded, verified.")
