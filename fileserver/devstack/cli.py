"""``fileserver dev``: install, start, stop and inspect the devstack's servers."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.jmeter import ensure_jmeter
from fileserver.devstack.stack import Stack

dev_app = typer.Typer(no_args_is_help=True, help="The local servers fileserver runs and tests on.")
console = Console()

NoCluster = Annotated[
    bool, typer.Option("--no-cluster", help="Leave out the Kubernetes control plane.")
]
Only = Annotated[
    list[str] | None, typer.Option("--only", help="Only these servers (and what they need).")
]


def _fail(exc: DevstackError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@dev_app.command()
def install(no_cluster: NoCluster = False, only: Only = None) -> None:
    """Install and build every server and tool without starting any (CI warms its cache)."""
    try:
        stack = Stack(cluster=not no_cluster)
        stack.install(only)
        if not only:
            ensure_jmeter(stack.versions, stack.settings.cache_dir)
    except DevstackError as exc:
        raise _fail(exc) from exc


@dev_app.command()
def up(no_cluster: NoCluster = False, only: Only = None) -> None:
    """Install what is missing and start the servers; prints where each listens."""
    stack = Stack(cluster=not no_cluster)
    try:
        stack.up(only)
    except DevstackError as exc:
        raise _fail(exc) from exc
    _print_status(stack)


@dev_app.command()
def down(only: Only = None) -> None:
    """Stop the servers the devstack started (found by pid file, never by name)."""
    stopped = Stack().down(only)
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


@dev_app.command()
def status() -> None:
    """Show which servers run and answer."""
    stack = Stack()
    _print_status(stack)
    if not all(s.ready for s in stack.status() if s.running):
        raise typer.Exit(1)


@dev_app.command()
def reset(yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Stop everything and delete every server's data (built binaries stay cached)."""
    stack = Stack()
    if not yes and not typer.confirm(f"Delete {stack.settings.state_dir}?"):
        raise typer.Exit(1)
    stack.reset()
    console.print("devstack reset: all data deleted")


@dev_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def kubectl(ctx: typer.Context) -> None:
    """Run the devstack's kubectl against its cluster: ``fileserver dev kubectl get nodes``."""
    stack = Stack()
    binary = stack.ctx.binaries.kube_tool("kubectl")
    os.execv(binary, [str(binary), f"--kubeconfig={stack.ctx.kubeconfig()}", *ctx.args])  # noqa: S606


@dev_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def helm(ctx: typer.Context) -> None:
    """Run the devstack's helm against its cluster: ``fileserver dev helm list -A``."""
    stack = Stack()
    binary = stack.ctx.binaries.helm
    os.execv(binary, [str(binary), f"--kubeconfig={stack.ctx.kubeconfig()}", *ctx.args])  # noqa: S606


@dev_app.command()
def images() -> None:
    """Build (or find) every container image the chart runs; prints each tag and its size."""
    stack = Stack()
    try:
        built = stack.images()
        tags = [built.app(), *built.datastores(stack.ctx.binaries.ferretdb).values()]
        built.report(tags)
    except DevstackError as exc:
        raise _fail(exc) from exc


kind_app = typer.Typer(no_args_is_help=True, help="The kind cluster, on a node image built here.")
dev_app.add_typer(kind_app, name="kind")


@kind_app.command("up")
def kind_up() -> None:
    """Build the node image and the cluster's images, and create the kind cluster."""
    stack = Stack()
    try:
        cluster = stack.kind()
        seconds = cluster.create()
        console.print(f"kind cluster ready ({seconds:.0f}s); kubeconfig: {cluster.kubeconfig}")
    except DevstackError as exc:
        raise _fail(exc) from exc


@kind_app.command("down")
def kind_down() -> None:
    """Delete the kind cluster (its images stay cached in the engine)."""
    try:
        Stack().kind().delete()
    except DevstackError as exc:
        raise _fail(exc) from exc


def _print_status(stack: Stack) -> None:
    table = Table("server", "state", "pid", "endpoint", title="fileserver devstack")
    for s in stack.status():
        state = (
            "[green]ready[/green]"
            if s.ready
            else ("[yellow]starting[/yellow]" if s.running else "[dim]stopped[/dim]")
        )
        table.add_row(s.name, state, str(s.pid or ""), s.endpoint)
    console.print(table)
