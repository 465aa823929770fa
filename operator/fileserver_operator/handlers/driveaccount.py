"""DriveAccount: register the account with the Uploader, keep its status, drain it on delete.

The credentials Secret is read by name on every sync (the operator may ``get`` Secrets in the
credentials namespace only: no list, no watch, so it never sees a Secret no DriveAccount names).
A changed Secret is therefore picked up by the next refresh (``account_sync_seconds``), and a
Secret it may not read is reported in the status, not retried as an error.
"""

from __future__ import annotations

from typing import Any

import kopf

from apis.common import GROUP, VERSION, parse_quantity
from apis.driveaccount import DriveAccount, DriveAccountSpec
from fileserver_operator.builders.accounts import (
    CredentialsProblem,
    Observation,
    account_status,
    create_payload,
    credentials_from_secret,
    secret_forbidden,
    secret_version,
    status_changes,
    update_payload,
)
from fileserver_operator.builders.conditions import condition, is_true, merge
from fileserver_operator.clients import Refused, Unavailable
from fileserver_operator.config import get_settings
from fileserver_operator.kube import Forbidden
from fileserver_operator.metrics import RECONCILES
from fileserver_operator.state import State

PLURAL = DriveAccount.PLURAL

SETTINGS = get_settings()


@kopf.index(GROUP, VERSION, PLURAL)
def driveaccount_pool(
    namespace: str, name: str, spec: kopf.Spec, status: kopf.Status, **_: Any
) -> dict[str, dict[str, Any]]:
    """Every account's budget, readiness and Uploader id: the pool the scaling rule sizes for."""
    try:
        budget = parse_quantity(spec.get("dailyDownloadBudget", 100 * 10**9))
    except ValueError:
        budget = 0
    return {
        "pool": {
            "namespace": namespace,
            "name": name,
            "budget": budget,
            "ready": is_true(status.get("conditions"), "Ready"),
            "uploader_id": status.get("uploaderAccountId"),
        }
    }


async def sync(
    *,
    name: str,
    namespace: str,
    spec: kopf.Spec,
    status: kopf.Status,
    generation: int,
    state: State,
) -> dict[str, Any]:
    """Bring the Uploader's account to the resource's spec; the status that results."""
    parsed = DriveAccountSpec.model_validate(dict(spec))
    ref = parsed.credentials_secret_ref
    secrets_at = state.settings.credentials_namespace or namespace
    credentials: dict[str, Any] | None = None
    version: str | None = None
    problem: CredentialsProblem | None = None
    try:
        secret = await state.kube.secret(secrets_at, ref.name)
        credentials = credentials_from_secret(
            secret, name=ref.name, key=ref.key, namespace=secrets_at
        )
        assert secret is not None
        version = secret_version(secret)
    except Forbidden:
        problem = secret_forbidden(name=ref.name, namespace=secrets_at)
    except CredentialsProblem as exc:
        problem = exc

    uploader = state.uploader
    account: dict[str, Any] | None = None
    known_id = status.get("uploaderAccountId")
    if known_id:
        account = await uploader.account(known_id)
    if account is None:
        account = await uploader.account_by_email(parsed.email)
    if account is not None and account.get("managed_by") != state.settings.manager:
        message = (
            f"an account with email {parsed.email} was registered outside the operator; "
            "delete it through the Uploader's API to let this resource manage it"
        )
        return account_status(
            Observation(generation, parsed, problem=problem, conflict=message), status
        )

    if account is None:
        if credentials is None:  # nothing to register yet: wait for the Secret
            return account_status(Observation(generation, parsed, problem=problem), status)
        try:
            account = await uploader.create_account(
                create_payload(parsed, credentials, manager=state.settings.manager)
            )
        except Refused as exc:
            # A concurrent sync of the same resource (the timer racing the create handler)
            # registered it first: take that one; anything else is a real refusal.
            account = await uploader.account_by_email(parsed.email) if exc.status == 409 else None
            if account is None or account.get("managed_by") != state.settings.manager:
                raise
        sent_version = version
    else:
        resend = credentials if version != status.get("credentialsVersion") else None
        changes = update_payload(parsed, account, resend)
        if changes:
            account = await uploader.update_account(account["id"], changes)
        sent_version = version if resend is not None else status.get("credentialsVersion")

    check: dict[str, Any] | None = None
    check_error: str | None = None
    if problem is None:
        try:
            check = await uploader.check_account(account["id"])
        except Unavailable as exc:
            check_error = f"Drive could not be reached to check the credentials: {exc}"
    figures = await state.downloader.account_figures(account["id"])
    return account_status(
        Observation(
            generation,
            parsed,
            account=account,
            problem=problem,
            check=check,
            check_error=check_error,
            figures=figures,
            credentials_version=sent_version,
        ),
        status,
    )


async def _reconcile(
    name: str,
    namespace: str,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    patch: kopf.Patch,
) -> None:
    state: State = memo.state
    try:
        new = await sync(
            name=name,
            namespace=namespace,
            spec=spec,
            status=status,
            generation=int(meta.get("generation", 0)),
            state=state,
        )
    except Unavailable as exc:
        RECONCILES.labels("DriveAccount", "retry").inc()
        raise kopf.TemporaryError(f"a service is unavailable: {exc}", delay=10) from None
    except Refused as exc:
        RECONCILES.labels("DriveAccount", "error").inc()
        patch.status["conditions"] = merge(
            status.get("conditions"),
            condition(
                "Ready", False, "UploaderRefused", exc.message, generation=meta.get("generation")
            ),
        )
        raise kopf.TemporaryError(f"the Uploader refused the account: {exc}", delay=60) from None
    RECONCILES.labels("DriveAccount", "ok").inc()
    # Written only when something changed: a thousand accounts refreshed every minute would
    # otherwise write their status 17 times a second to report that nothing happened.
    patch.status.update(status_changes(new, status))


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL)
async def driveaccount_reconcile(
    name: str,
    namespace: str,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """Register or update the account; its credentials are checked and its usage read."""
    await _reconcile(name, namespace, spec, status, meta, memo, patch)


@kopf.timer(
    GROUP,
    VERSION,
    PLURAL,
    interval=SETTINGS.account_sync_seconds,
    initial_delay=SETTINGS.account_sync_seconds,  # the create/resume handlers sync first
    idle=1,
)
async def driveaccount_refresh(
    name: str,
    namespace: str,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    patch: kopf.Patch,
    **_: Any,
) -> None:
    """Refresh usage, remaining budget and credential health (and the daily rollover)."""
    await _reconcile(name, namespace, spec, status, meta, memo, patch)


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def driveaccount_delete(
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    memo: kopf.Memo,
    patch: kopf.Patch,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    """Drain the account (no new URLs, replicas off Drive) before the resource goes."""
    state: State = memo.state
    try:
        account = None
        if status.get("uploaderAccountId"):
            account = await state.uploader.account(status["uploaderAccountId"])
        if account is None:
            account = await state.uploader.account_by_email(str(spec.get("email", "")))
        if account is None or account.get("managed_by") != state.settings.manager:
            logger.info("no account of ours in the Uploader: nothing to drain")
            return
        await state.uploader.delete_account(account["id"])
    except Unavailable as exc:
        raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None
    patch.status["conditions"] = merge(
        status.get("conditions"),
        condition(
            "Ready",
            False,
            "Draining",
            "the account's replicas are being removed from Drive",
            generation=meta.get("generation"),
        ),
    )
    raise kopf.TemporaryError(
        f"draining: {account.get('replicas', '?')} replicas left", delay=SETTINGS.drain_poll_seconds
    )
