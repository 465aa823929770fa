"""Progress lines for devstack stages: what is being done and how long it took."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

console = Console(stderr=True, highlight=False)


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Print ``what`` and, when the block ends, its duration (or that it failed)."""
    console.print(f"[bold]»[/bold] {what} …")
    started = time.monotonic()
    try:
        yield
    except BaseException:
        console.print(f"[red]✗[/red] {what} failed after {time.monotonic() - started:.1f}s")
        raise
    console.print(f"[green]✓[/green] {what} ({time.monotonic() - started:.1f}s)")


def info(message: str) -> None:
    """One plain progress line."""
    console.print(f"  {message}")
