"""``fileserver accounts add|list|show|update|remove``: the pool of Drive accounts.

Credentials are read from a JSON file and sent once; the Uploader never shows them again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from fileserver.client.cli_common import JsonFlag, client, connection, out, print_json
from fileserver.client.errors import ClientError, ExitCode
from fileserver.client.render import accounts_table

accounts_app = typer.Typer(
    no_args_is_help=True, help="Drive accounts of the pool (Uploader).", callback=connection
)

Ref = Annotated[str, typer.Argument(help="account id or email")]
CredentialsFile = Annotated[
    Path | None,
    typer.Option(
        "--credentials",
        exists=True,
        dir_okay=False,
        help="service-account key, OAuth authorized_user or emulator token JSON",
    ),
]
BudgetGB = Annotated[float | None, typer.Option(min=0, help="daily download budget in GB (10^9)")]


def _credentials(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise ClientError(f"{path} is not JSON: {exc}", ExitCode.USAGE) from exc
    if not isinstance(data, dict):
        raise ClientError(f"{path} must hold a JSON object", ExitCode.USAGE)
    return data


@accounts_app.command("add")
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument()],
    credentials: CredentialsFile = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
    daily_budget_gb: BudgetGB = None,
    enabled: Annotated[bool, typer.Option("--enabled/--disabled")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Register a Drive account with its credentials."""
    with client(ctx) as api:
        if credentials is None:
            raise ClientError("--credentials FILE is required", ExitCode.USAGE)
        body: dict[str, Any] = {
            "email": email,
            "display_name": name,
            "credentials": _credentials(credentials),
            "enabled": enabled,
        }
        if daily_budget_gb is not None:
            body["daily_budget_bytes"] = int(daily_budget_gb * 10**9)
        account = api.create_account(body)
    print_json(account) if as_json else out.print(accounts_table([account]))


@accounts_app.command("list")
def list_(
    ctx: typer.Context,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List the accounts, by email."""
    with client(ctx) as api:
        page = api.list_accounts(offset=offset, limit=limit)
    if as_json:
        print_json(page)
        return
    out.print(accounts_table(page.items))
    out.print(f"{len(page.items)} of {page.total} accounts")


@accounts_app.command("show")
def show(ctx: typer.Context, ref: Ref, as_json: JsonFlag = False) -> None:
    """Show one account."""
    with client(ctx) as api:
        account = api.get_account(ref)
    print_json(account) if as_json else out.print(accounts_table([account]))


@accounts_app.command("update")
def update(
    ctx: typer.Context,
    ref: Ref,
    email: Annotated[str | None, typer.Option(help="new email")] = None,
    name: Annotated[str | None, typer.Option(help="new display name")] = None,
    credentials: CredentialsFile = None,
    daily_budget_gb: BudgetGB = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change an account's email, name, credentials, budget or whether it serves."""
    changes: dict[str, Any] = {
        "email": email,
        "display_name": name,
        "enabled": enabled,
        "daily_budget_bytes": None if daily_budget_gb is None else int(daily_budget_gb * 10**9),
    }
    with client(ctx) as api:
        if credentials is not None:
            changes["credentials"] = _credentials(credentials)
        body = {k: v for k, v in changes.items() if v is not None}
        if not body:
            raise ClientError("nothing to change: give at least one option", ExitCode.USAGE)
        account = api.update_account(api.get_account(ref).id, body)
    print_json(account) if as_json else out.print(accounts_table([account]))


@accounts_app.command("remove")
def remove(ctx: typer.Context, ref: Ref) -> None:
    """Drain and delete an account (its replicas leave the Downloader first, then Drive)."""
    with client(ctx) as api:
        account = api.delete_account(api.get_account(ref).id)
    out.print(f"removing {account.email} ({account.id}): draining")
