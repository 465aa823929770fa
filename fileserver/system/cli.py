"""``fileserver up | down | status | logs | skaffold``: the whole system on this machine."""

from __future__ import annotations

import signal
import subprocess
import threading
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from fileserver.devstack.errors import DevstackError
from fileserver.devstack.servers import Prometheus
from fileserver.devstack.stack import Stack
from fileserver.system import cluster as on_cluster
from fileserver.system import kube
from fileserver.system.accounts import ensure_demo_accounts
from fileserver.system.cluster import ClusterSystem, System, current_system
from fileserver.system.skaffold import Skaffold
from fileserver.system.system import LocalSystem

console = Console()


def up(
    cluster: Annotated[
        bool,
        typer.Option(
            help="Run it as the Helm chart's pods on the kind cluster (images and node image "
            "built here; the operator in its pod; the demo accounts become DriveAccounts)."
        ),
    ] = False,
    accounts: Annotated[int | None, typer.Option(help="Demo Drive accounts to ensure.")] = None,
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Leave it running and return.")
    ] = False,
) -> None:
    """Start everything (installing what is missing) and print every endpoint."""
    if cluster:
        _up_cluster(accounts)
        return
    if ClusterSystem.recorded(Stack(cluster=False).settings.state_dir):
        _fail("the system runs on the kind cluster: `fileserver down` first")
    system = LocalSystem(Stack(cluster=False))
    try:
        started = system.up()
        count = system.settings.demo_accounts if accounts is None else accounts
        emails = ensure_demo_accounts(system, count, system.settings.demo_budget_bytes)
    except DevstackError as exc:
        _fail(str(exc))
    _print_endpoints(system, len(emails))
    if detach:
        console.print("Running in the background; `fileserver down` stops it.")
        return
    console.print("Press Ctrl-C to stop what this command started.")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    console.print("stopping …")
    for name in reversed(started):
        if name in {s.name for s in system.managed()}:
            system.process(system.service(name)).stop()
    system.stack.down([n for n in started if n in system.stack.servers])
    console.print("stopped: " + (", ".join(started) or "nothing (all was already running)"))


def _up_cluster(accounts: int | None) -> None:
    """The chart on kind; it keeps running (pods) when this returns: `down` deletes it."""
    if any(s.pid for s in LocalSystem(Stack(cluster=False)).status()):
        _fail("the local system's processes run: `fileserver down` first (they share ports)")
    system = ClusterSystem()
    try:
        system.up()
        count = system.settings.demo_accounts if accounts is None else accounts
        emails = ensure_demo_accounts(system, count, system.settings.demo_budget_bytes)
    except DevstackError as exc:
        _fail(str(exc))
    _print_endpoints(system, len(emails))
    console.print("Running as pods on the kind cluster; `fileserver down` deletes it.")


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def skaffold(ctx: typer.Context) -> None:
    """skaffold on the kind cluster with the images built here: ``fileserver skaffold dev``.

    Builds what skaffold cannot pull (the pinned skaffold, the node image, the Python base,
    the bundled servers' images), then runs skaffold with the given arguments; the cluster
    stays up afterwards (``fileserver dev kind down`` deletes it).
    """
    try:
        Skaffold().exec(ctx.args)
    except DevstackError as exc:
        _fail(str(exc))


def down() -> None:
    """Stop every service and the servers `fileserver up` started."""
    system = current_system()
    try:
        stopped = system.down()
    except DevstackError as exc:
        _fail(str(exc))
    console.print(f"stopped: {', '.join(stopped) or 'nothing was running'}")


def status() -> None:
    """Show which services run and answer; exit 1 if one runs but does not answer."""
    system = current_system()
    statuses = system.status()
    where = "pods" if isinstance(system, ClusterSystem) else "pid"
    table = Table("service", "state", where, "url", title="fileserver")
    for s in statuses:
        state = (
            "[green]ready[/green]"
            if s.ready
            else ("[yellow]not answering[/yellow]" if s.pid else "[dim]stopped[/dim]")
        )
        table.add_row(s.name, state, s.pods or str(s.pid or ""), s.url)
    console.print(table)
    if isinstance(system, ClusterSystem):
        _print_drive_accounts(system)
        if not statuses or any(not s.ready for s in statuses):
            raise typer.Exit(1)
    elif any(s.pid and not s.ready for s in statuses):
        raise typer.Exit(1)


def _print_drive_accounts(system: ClusterSystem) -> None:
    namespace = system.settings.namespace
    table = Table("DriveAccount", "email", "ready", "reason", title=f"namespace {namespace}")
    for account in kube.items(system.kube_tools(), "driveaccounts", namespace):
        ready, reason = kube.conditions(account).get("Ready", ("Unknown", ""))
        colour = "green" if ready == "True" else "yellow"
        table.add_row(
            account["metadata"]["name"],
            account["spec"]["email"],
            f"[{colour}]{ready}[/{colour}]",
            reason,
        )
    console.print(table)


def logs(
    name: Annotated[str, typer.Argument(help="A service or devstack server name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n")] = 50,
) -> None:
    """Print (or follow) a service's or server's log."""
    system = current_system()
    if isinstance(system, ClusterSystem):
        raise typer.Exit(on_cluster.logs(system, name, follow=follow, lines=lines))
    names = {s.name: system.process(s) for s in system.managed()}
    names |= {n: system.stack.process(n) for n in system.stack.servers}
    if name not in names:
        console.print(f"[red]error:[/red] unknown name {name!r}; one of: {', '.join(names)}")
        raise typer.Exit(2)
    argv = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(names[name].log_file)]
    raise typer.Exit(subprocess.call(argv))


def _print_endpoints(system: System, accounts: int) -> None:
    table = Table("what", "where", title="fileserver is up")
    if isinstance(system, ClusterSystem):
        for name, url in system.urls.items():
            table.add_row(name, url)
        table.add_row("kubeconfig (admin)", str(system.kubeconfig))
        table.add_row("namespace", system.namespace)
        table.add_row("demo DriveAccounts (Ready)", str(accounts))
        credentials = system.record_file
    else:
        for service in system.services:
            table.add_row(service.name, service.url)
            if service.docs_path:
                table.add_row(f"  {service.name} OpenAPI docs", f"{service.url}{service.docs_path}")
        table.add_row("prometheus", system.stack.server(Prometheus).endpoint())
        table.add_row("demo Drive accounts", str(accounts))
        credentials = system.home / "secrets.json"
    table.add_row("Uploader admin token", system.secrets.uploader_admin_token)
    table.add_row("Downloader admin token", system.secrets.downloader_admin_token)
    table.add_row("all credentials", str(credentials))
    console.print(table)
