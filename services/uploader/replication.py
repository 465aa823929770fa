"""Replication: bring every file's replicas to what its placement asks, whatever crashes.

:func:`plan_file` is the whole decision, a pure function of a file and the accounts: which
replicas to add, which to take out of the Downloader's choices, which jobs to queue, and the
file's next status. :func:`reconcile` applies a plan as one compare-and-set write (on ``seq``)
and queues its jobs; any job or sweep may call it at any time, so nothing depends on a job
surviving. The jobs themselves:

- :func:`replicate` makes one replica. The attempt is counted before Drive is touched, so a
  killed attempt still uses up budget; a retry after a crash first looks on the account for a
  copy the killed attempt finished (same name, size and MD5, not yet anybody's replica) and
  adopts it, so a crash never leaves a duplicate. The first replica is uploaded from GridFS;
  the others are server-side copies of a ready one (the bytes cross the VPS link once).
- :func:`remove_replica` deletes a replica on Drive, but only once the Downloader has
  acknowledged the event that took it out of its choices (``removing_seq <= acked_seq``).
- :func:`backfill_account` reconciles the ``uploaded`` files an account (new, re-enabled, with
  new credentials) should now hold. An uploaded file stays ``uploaded`` while copies are added
  or removed, since the Downloader serves no other status.

Drive errors decide what follows: rate limits and transient failures retry with exponential
backoff (arq ``Retry``) within the attempt budget; a quota or credential error means the
account cannot take the file, so the replica fails as *skipped* and the placement moves on;
any other failure, or an exhausted budget, fails the file with the reason, its staged bytes
kept for a retry.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from arq import Retry

from services.drive.client import DriveClient, DriveFile
from services.drive.config import DriveSettings
from services.drive.errors import (
    AuthError,
    DriveError,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    QuotaKind,
)
from services.shared.days import utcnow
from services.shared.events import FileStatus, ReplicaState
from services.uploader import repository
from services.uploader.batch import commit_batch
from services.uploader.config import Settings
from services.uploader.drives import DriveClients
from services.uploader.jobs import Jobs
from services.uploader.metrics import REPLICAS_REMOVED, REPLICATION_FAILURES, REPLICATION_SECONDS
from services.uploader.models import Account, AccountHealth, Replica, StoredFile
from services.uploader.placement import DefaultPlacement, PlacementPolicy
from services.uploader.staging import Staging
from services.uploader.vault import Vault

log = logging.getLogger(__name__)

CAS_ATTEMPTS = 20
BACKFILL_BATCH = 500
PLACEMENT_SWEEP_FILES = 1000
# Files whose replicas are made: the first ones (replicating) or backfilled ones (uploaded).
SERVING_OR_MAKING = (FileStatus.REPLICATING, FileStatus.UPLOADED)
CLOCK_SKEW = timedelta(minutes=1)  # between this host and Drive, for createdTime comparisons


# Planning (pure) ----------------------------------------------------------------------------


@dataclass
class Plan:
    """What one reconcile pass changes and queues for a file."""

    set_: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    replicate: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    drop_staging: bool = False

    @property
    def writes(self) -> bool:
        return bool(self.set_ or self.unset)


def plan_file(
    file: StoredFile,
    accounts: dict[str, Account],
    policy: PlacementPolicy,
    stored: Mapping[str, int] | None = None,
) -> Plan:
    """The next step for ``file`` given the live ``accounts`` and the bytes each holds
    (``stored``; missing: nothing), pure: no I/O."""
    plan = Plan()
    removing_seq = file.seq + 1  # the seq the plan's own write will give the file

    def take_out(account_id: str, replica: Replica) -> None:
        if replica.state == ReplicaState.FAILED or (
            replica.drive_file_id is None and replica.attempts == 0
        ):
            plan.unset.append(f"replicas.{account_id}")  # nothing can exist on Drive
            return
        plan.set_[f"replicas.{account_id}.state"] = ReplicaState.REMOVING.value
        plan.set_[f"replicas.{account_id}.removing_seq"] = removing_seq
        plan.set_[f"replicas.{account_id}.updated_at"] = utcnow()

    for account_id, replica in file.replicas.items():
        if replica.state == ReplicaState.REMOVING:
            if (replica.removing_seq or 0) <= file.acked_seq:
                plan.remove.append(account_id)
        elif file.status == FileStatus.DELETING:
            take_out(account_id, replica)
        else:
            account = accounts.get(account_id)
            if account is None or account.draining:
                take_out(account_id, replica)

    if file.status == FileStatus.DELETING:
        if not file.replicas or len(plan.unset) == len(file.replicas):
            plan.set_["deleted"] = True
            plan.drop_staging = file.staging_id is not None
        return plan

    eligible = [a for a in accounts.values() if can_take_replicas(a)]
    skipped = {aid for aid, r in file.replicas.items() if r.state == ReplicaState.FAILED and r.skip}
    held = stored or {}
    candidates = [
        a
        for a in eligible
        if a.id not in skipped
        and (a.id in file.replicas or has_room(a, held.get(a.id, 0), file.size))
    ]
    targets = policy.targets(file, candidates, held)
    touched = {k.split(".")[1] for k in [*plan.set_, *plan.unset] if k.startswith("replicas.")}

    if file.status == FileStatus.REPLICATING:
        _plan_replicating(file, targets, touched, plan, take_out)
    elif file.status == FileStatus.UPLOADED:
        _plan_backfill(file, targets, touched, plan, take_out)
    if file.status == FileStatus.UPLOADED or plan.set_.get("status") == FileStatus.UPLOADED.value:
        # Copies beyond what placement asks for (desired_replicas lowered) leave. The default
        # placement ranks ready copies first, so a ready copy outside the targets means every
        # target is ready. Copies on accounts that cannot take new ones (disabled, refused
        # credentials) are kept: they still serve downloads with their link.
        usable = {a.id for a in eligible}
        for account_id, replica in file.replicas.items():
            if (
                account_id in usable
                and account_id not in targets
                and account_id not in touched
                and replica.state == ReplicaState.READY
            ):
                take_out(account_id, replica)
        plan.drop_staging = file.staging_id is not None
    return plan


def can_take_replicas(account: Account) -> bool:
    """Whether placement may put new replicas on the account."""
    return account.enabled and not account.draining and account.health != AccountHealth.AUTH_FAILED


def has_room(account: Account, stored: int, size: int) -> bool:
    """Whether a new replica of ``size`` bytes fits within the account's storage limit."""
    room = account.storage_room
    return room is None or stored + size <= room


def _add_targets(
    file: StoredFile,
    targets: Sequence[str],
    touched: set[str],
    plan: Plan,
    take_out: Any,
) -> dict[str, ReplicaState]:
    """New pending replicas on targets without one; unwanted pending ones out; target states."""
    for account_id in targets:
        if account_id not in file.replicas:
            plan.set_[f"replicas.{account_id}"] = Replica(account_id=account_id).model_dump()
    for account_id, replica in file.replicas.items():
        if (
            account_id not in targets
            and account_id not in touched
            and (replica.state == ReplicaState.PENDING)
        ):
            take_out(account_id, replica)  # no longer wanted (account disabled, say)
    return {
        aid: (file.replicas[aid].state if aid in file.replicas else ReplicaState.PENDING)
        for aid in targets
    }


def _has_source(file: StoredFile, touched: set[str]) -> bool:
    return any(
        r.state == ReplicaState.READY and aid not in touched for aid, r in file.replicas.items()
    )


def _plan_backfill(
    file: StoredFile,
    targets: Sequence[str],
    touched: set[str],
    plan: Plan,
    take_out: Any,
) -> None:
    """An uploaded file below its placement (new account, more replicas wanted) gets copies.

    The file stays ``uploaded`` throughout, so the Downloader keeps serving its ready replicas;
    a copy that fails stays a failed replica and never fails the file.
    """
    if not _has_source(file, touched):
        return  # nothing left to copy from; its staged bytes are gone
    states = _add_targets(file, targets, touched, plan, take_out)
    plan.replicate = [aid for aid, state in states.items() if state == ReplicaState.PENDING]


def _plan_replicating(
    file: StoredFile,
    targets: Sequence[str],
    touched: set[str],
    plan: Plan,
    take_out: Any,
) -> None:
    states = _add_targets(file, targets, touched, plan, take_out)
    failed = [
        f"{aid}: {r.error}"
        for aid, r in sorted(file.replicas.items())
        if r.state == ReplicaState.FAILED and not r.skip
    ]
    has_source = _has_source(file, touched)
    if failed:
        _finish(plan, FileStatus.FAILED, "; ".join(failed))
    elif not targets:
        reasons = [
            f"{aid}: {r.error}"
            for aid, r in sorted(file.replicas.items())
            if r.state == ReplicaState.FAILED
        ]
        _finish(
            plan,
            FileStatus.FAILED,
            "no account can take the file" + (" (" + "; ".join(reasons) + ")" if reasons else ""),
        )
    elif all(state == ReplicaState.READY for state in states.values()):
        _finish(plan, FileStatus.UPLOADED, None)
    elif not has_source and file.staging_id is None:
        _finish(plan, FileStatus.FAILED, "no ready replica and no staged bytes to copy from")
    else:
        pending = [aid for aid, state in states.items() if state == ReplicaState.PENDING]
        # Without a ready copy, one account gets the upload from GridFS; the others follow by
        # server-side copy of it, so the bytes cross the VPS link once.
        plan.replicate = pending if has_source else pending[:1]


def _finish(plan: Plan, status: FileStatus, reason: str | None) -> None:
    plan.set_["status"] = status.value
    plan.set_["failure_reason"] = reason


# Runtime ------------------------------------------------------------------------------------


@dataclass
class Replicator:
    """What the replication jobs share in one worker process."""

    settings: Settings
    drive: DriveSettings
    vault: Vault
    staging: Staging
    jobs: Jobs
    policy: PlacementPolicy = field(default_factory=DefaultPlacement)
    clients: DriveClients = field(init=False)
    placement_cursor: str = field(default="", init=False)
    _stored: dict[str, int] = field(default_factory=dict, init=False)
    _stored_at: float = field(default=-math.inf, init=False)

    def __post_init__(self) -> None:
        self.clients = DriveClients(self.vault, self.drive)

    async def stored(self, accounts: dict[str, Account]) -> dict[str, int]:
        """Bytes each account holds, as placement counts them (ready, pending and removing
        replicas). Recounted from the catalog every ``storage_recount_seconds``, and only when
        some account has a limit; in between, :func:`reconcile` adds what it places. A copy
        another worker placed meanwhile may be missed until the recount: Drive's own storage
        check then refuses it, and the account is marked ``storage_full``."""
        if not any(a.storage_room is not None for a in accounts.values()):
            return {}
        if time.monotonic() - self._stored_at >= self.settings.storage_recount_seconds:
            held = await repository.holdings()
            self._stored = {aid: h.stored_bytes for aid, h in held.items()}
            self._stored_at = time.monotonic()
        return self._stored

    def placed(self, account_id: str, size: int) -> None:
        """Count a replica just placed on the account (or, negative, one not placed after
        all) until the next recount."""
        self._stored[account_id] = self._stored.get(account_id, 0) + size

    def client(self, account: Account) -> DriveClient:
        """The account's Drive client, rebuilt when its credentials change."""
        return self.clients.client(account)

    async def close(self) -> None:
        await self.clients.close()

    def backoff(self, attempt: int) -> float:
        """Truncated exponential backoff with full jitter, in seconds."""
        s = self.settings
        ceiling = min(s.retry_max_seconds, s.retry_base_seconds * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 (jitter, not a secret)


async def reconcile(r: Replicator, file_id: str) -> StoredFile | None:
    """Apply the file's plan (compare-and-set on ``seq``, retried) and queue its jobs."""
    for _ in range(CAS_ATTEMPTS):
        file = await repository.get_file(file_id)
        if file is None:
            return None
        accounts = {a.id: a for a in await repository.live_accounts()}
        plan = plan_file(file, accounts, r.policy, await r.stored(accounts))
        # Counted before the write's await: concurrent reconciles in this process must see
        # the room these copies take (undone if the write loses the race).
        new_replicas = [
            key.split(".")[1]
            for key, value in plan.set_.items()
            if isinstance(value, dict) and key.count(".") == 1
        ]
        for account_id in new_replicas:
            r.placed(account_id, file.size)
        staged = file.staging_id if plan.drop_staging else None
        if staged is not None:
            plan.set_["staging_id"] = None
        if plan.writes:
            changed = await repository.change(
                StoredFile,
                file_id,
                set_=plan.set_,
                unset=tuple(plan.unset),
                where={"seq": file.seq},
            )
            if changed is None:
                for account_id in new_replicas:
                    r.placed(account_id, -file.size)
                continue  # changed meanwhile: plan again from the new state
            if "status" in plan.set_:
                log.info(
                    "file %s is now %s %s", file_id, changed.status, changed.failure_reason or ""
                )
            file = changed
            await r.jobs.relay()
        if staged is not None:
            # Detached first, deleted second: a crash in between leaves an orphan the sweep
            # removes, never a file pointing at missing bytes.
            await r.staging.delete(staged)
        # Copies that make a new file downloadable go first; those of a served file can wait.
        background = file.status != FileStatus.REPLICATING
        for account_id in plan.replicate:
            await r.jobs.replicate(file_id, account_id, background=background)
        for account_id in plan.remove:
            await r.jobs.remove_replica(file_id, account_id)
        return file
    log.warning("file %s kept changing; reconcile left to the next sweep", file_id)
    return None


# Jobs ---------------------------------------------------------------------------------------


async def replicate(r: Replicator, file_id: str, account_id: str) -> None:
    """Make the replica of ``file_id`` on ``account_id`` (idempotent; may raise ``Retry``)."""
    file = await repository.get_file(file_id)
    replica = file.replicas.get(account_id) if file is not None else None
    if file is None or file.status not in SERVING_OR_MAKING or replica is None:
        return
    if replica.state != ReplicaState.PENDING:
        return  # made already (a redelivered job), or no longer wanted
    account = await repository.get_account(account_id)
    if account is None or account.draining or not account.enabled:
        await reconcile(r, file_id)
        return
    attempt = replica.attempts + 1
    if attempt > r.settings.replication_max_attempts:
        await _fail(
            r,
            file,
            account_id,
            f"gave up after {replica.attempts} attempts: {replica.error or 'no answer'}",
            skip=False,
            reason="exhausted",
        )
        return
    # Count the attempt before touching Drive: a killed attempt still spends budget, and the
    # next one knows it must look for what the killed one may have finished.
    since = replica.first_attempt_at or utcnow()
    # Only while the replica entry exists: a dotted $inc/$set on an entry removed meanwhile
    # (the account drained, the file reconciled by another worker) would recreate it
    # half-written, with no account_id, and every read of the file would fail validation
    # (seen on kind when pods were killed under traffic).
    here = {f"replicas.{account_id}.account_id": account_id}
    counted = await repository.note(
        StoredFile,
        file_id,
        inc={f"replicas.{account_id}.attempts": 1},
        set_={f"replicas.{account_id}.first_attempt_at": since},
        where=here,
    )
    if not counted:
        await reconcile(r, file_id)
        return
    client = r.client(account)
    started = time.perf_counter()
    try:
        made, method = await _make_replica(r, client, file, account_id, after_crash=attempt > 1)
        await _finish_copy(client, file, account_id, made, since=since)
    except QuotaExceeded as exc:
        if exc.quota in (QuotaKind.STORAGE, QuotaKind.UPLOAD):
            await repository.set_health(account, AccountHealth.STORAGE_FULL, str(exc))
        await _fail(r, file, account_id, str(exc), skip=True, reason=f"quota_{exc.quota}")
        return
    except AuthError as exc:
        await repository.set_health(account, AccountHealth.AUTH_FAILED, str(exc))
        await _fail(r, file, account_id, str(exc), skip=True, reason="auth")
        return
    except DriveError as exc:
        if not exc.retryable:
            await _fail(r, file, account_id, str(exc), skip=False, reason=type(exc).__name__)
            return
        REPLICATION_FAILURES.labels(type(exc).__name__).inc()
        await repository.note(
            StoredFile, file_id, set_={f"replicas.{account_id}.error": str(exc)}, where=here
        )
        delay = r.backoff(attempt)
        log.warning(
            "file %s on %s: %s; attempt %d, retrying in %.1f s",
            file_id,
            account_id,
            exc,
            attempt,
            delay,
        )
        raise Retry(defer=delay) from exc
    REPLICATION_SECONDS.labels(method).observe(time.perf_counter() - started)
    await _record_ready(r, client, file, account, made)


async def _finish_copy(
    client: DriveClient, file: StoredFile, account_id: str, made: DriveFile, *, since: datetime
) -> None:
    """Drop duplicates and share the new copy. A failure no retry will follow (quota, auth,
    refusal) ends the replica without recording the copy: delete it, or it is left on Drive
    with nothing referring to it (found by the fault campaign, docs/reliability.md)."""
    try:
        await _delete_duplicates(client, file, account_id, keep=made, since=since)
        await client.share_anyone_reader(made.id)
    except DriveError as exc:
        if not exc.retryable:  # a retry would adopt the copy (``after_crash``); this will not
            try:
                await client.delete(made.id, missing_ok=True)
            except DriveError as cleanup:
                log.error(
                    "file %s: cannot delete its unfinished copy %s on %s (%s); left on Drive",
                    file.id,
                    made.id,
                    account_id,
                    cleanup,
                )
        raise


async def _make_replica(
    r: Replicator, client: DriveClient, file: StoredFile, account_id: str, *, after_crash: bool
) -> tuple[DriveFile, str]:
    if after_crash:
        adopted = await _find_unrecorded_copy(r, client, file, account_id)
        if adopted is not None:
            log.info(
                "file %s on %s: adopted Drive file %s left by an interrupted attempt",
                file.id,
                account_id,
                adopted.id,
            )
            return adopted, "adopted"
    source = next(
        (
            replica.drive_file_id
            for aid, replica in sorted(file.replicas.items())
            if aid != account_id and replica.state == ReplicaState.READY and replica.drive_file_id
        ),
        None,
    )
    if source is not None:
        try:
            return await client.copy(source, file.name), "copy"
        except (NotFound, PermissionDenied) as exc:
            if file.staging_id is None:
                raise
            log.warning(
                "file %s on %s: server-side copy refused (%s); uploading instead",
                file.id,
                account_id,
                exc,
            )
    if file.staging_id is None:
        raise NotFound("no ready replica to copy and no staged bytes", operation="replicate")
    stream = r.staging.read(file.staging_id)
    return await client.upload(stream, file.name, file.size, file.content_type), "upload"


async def _find_unrecorded_copy(
    r: Replicator, client: DriveClient, file: StoredFile, account_id: str
) -> DriveFile | None:
    """A finished copy of ``file`` on the account that no file records yet."""
    same = [f for f in await client.list(name=file.name) if f.size == file.size and f.md5]
    if not same:
        return None
    taken = await repository.referenced_drive_ids(account_id, [f.id for f in same])
    free = [f for f in same if f.id not in taken]
    if not free:
        return None
    md5 = file.md5 or await _staged_md5(r, file)
    return next((f for f in free if f.md5 == md5), None)


async def _delete_duplicates(
    client: DriveClient, file: StoredFile, account_id: str, *, keep: DriveFile, since: datetime
) -> None:
    """Delete extra copies this replica's attempts made (a create retried after its answer
    was lost makes a second file): same name, size and MD5, made since the first attempt,
    and nobody's replica."""
    cutoff = since - CLOCK_SKEW
    same = [
        f
        for f in await client.list(name=file.name)
        if f.id != keep.id
        and f.size == file.size
        and f.md5 == keep.md5
        and f.created_time is not None
        and f.created_time >= cutoff
    ]
    if not same:
        return
    taken = await repository.referenced_drive_ids(account_id, [f.id for f in same])
    for extra in same:
        if extra.id not in taken:
            log.info(
                "file %s on %s: deleting duplicate Drive file %s", file.id, account_id, extra.id
            )
            await client.delete(extra.id, missing_ok=True)


async def _staged_md5(r: Replicator, file: StoredFile) -> str | None:
    if file.staging_id is None:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    async for chunk in r.staging.read(file.staging_id):
        digest.update(chunk)
    return digest.hexdigest()


async def _record_ready(
    r: Replicator, client: DriveClient, file: StoredFile, account: Account, made: DriveFile
) -> None:
    key = f"replicas.{account.id}"
    marked = await repository.change(
        StoredFile,
        file.id,
        set_={
            f"{key}.state": ReplicaState.READY.value,
            f"{key}.drive_file_id": made.id,
            f"{key}.error": None,
            f"{key}.updated_at": utcnow(),
            **({"md5": made.md5} if file.md5 is None and made.md5 else {}),
        },
        where={
            "status": {"$in": [status.value for status in SERVING_OR_MAKING]},
            f"{key}.state": ReplicaState.PENDING.value,
        },
    )
    if marked is None:
        # The file was deleted or the replica given up meanwhile: hand the copy to the removal
        # (it deletes what it is told about), or delete it here; never leave it behind.
        handed = await repository.note(
            StoredFile,
            file.id,
            set_={f"{key}.drive_file_id": made.id},
            where={f"{key}.state": ReplicaState.REMOVING.value, f"{key}.drive_file_id": None},
        )
        if not handed:
            await client.delete(made.id, missing_ok=True)
    elif account.health == AccountHealth.STORAGE_FULL:
        await repository.set_health(account, AccountHealth.OK, None)
    await reconcile(r, file.id)


async def _fail(
    r: Replicator, file: StoredFile, account_id: str, error: str, *, skip: bool, reason: str
) -> None:
    REPLICATION_FAILURES.labels(reason).inc()
    log.warning("file %s on %s failed (%s): %s", file.id, account_id, reason, error)
    key = f"replicas.{account_id}"
    await repository.change(
        StoredFile,
        file.id,
        set_={
            f"{key}.state": ReplicaState.FAILED.value,
            f"{key}.error": error,
            f"{key}.skip": skip,
            f"{key}.updated_at": utcnow(),
        },
        where={f"{key}.state": ReplicaState.PENDING.value},
    )
    await reconcile(r, file.id)


async def remove_replica(r: Replicator, file_id: str, account_id: str) -> None:
    """Delete a replica from Drive once the Downloader no longer hands it out."""
    file = await repository.get_file(file_id)
    replica = file.replicas.get(account_id) if file is not None else None
    if file is None or replica is None or replica.state != ReplicaState.REMOVING:
        return
    if (replica.removing_seq or 0) > file.acked_seq:
        return  # the relay queues a reconcile when the Downloader acknowledges
    account = await repository.get_account(account_id)
    if account is not None:
        client = r.client(account)
        try:
            if replica.drive_file_id is not None:
                await client.delete(replica.drive_file_id, missing_ok=True)
            else:
                stray = await _find_unrecorded_copy(r, client, file, account_id)
                if stray is not None:
                    await client.delete(stray.id, missing_ok=True)
        except AuthError as exc:
            log.error(
                "file %s: cannot delete Drive file %s of account %s (%s); left on Drive",
                file_id,
                replica.drive_file_id,
                account_id,
                exc,
            )
        except DriveError as exc:
            if not exc.retryable:
                log.error(
                    "file %s: deleting on %s failed for good (%s); left on Drive",
                    file_id,
                    account_id,
                    exc,
                )
            else:
                raise Retry(defer=r.backoff(1)) from exc
    await repository.change(
        StoredFile,
        file_id,
        unset=(f"replicas.{account_id}",),
        where={f"replicas.{account_id}.state": ReplicaState.REMOVING.value},
    )
    REPLICAS_REMOVED.inc()
    await reconcile(r, file_id)
    if account is not None and account.draining:
        await drain_account(r, account_id)


async def drain_account(r: Replicator, account_id: str) -> bool:
    """Move a draining account's replicas out; bury it once none is left. True when done."""
    account = await repository.get_account(account_id)
    if account is None or not account.draining:
        return True
    files = await repository.files_on_account(account_id, limit=500)
    for file in files:
        await reconcile(r, file.id)
    if files:
        return False
    if await repository.bury(Account, account_id, where={"draining": True}) is not None:
        log.info("account %s drained and deleted", account_id)
        await r.jobs.relay()
    return True


async def release_account(r: Replicator, account_id: str) -> int:
    """Take an account that can no longer take replicas (disabled, refused credentials) off
    the files that were still to get one; the number of files reconciled.

    Its queued copies were cancelled when it was disabled (:meth:`Jobs.cancel_account`); here
    each such file is planned again: a replica not started yet goes, a replicating file picks
    another account, and one an attempt may have begun is removed from Drive.
    """
    account = await repository.get_account(account_id)
    if account is None or can_take_replicas(account):
        return 0
    released = 0
    async for file in repository.files_pending_on(account_id, BACKFILL_BATCH):
        await reconcile(r, file.id)
        released += 1
    log.info("account %s: released from %d files", account_id, released)
    return released


def _needs_reconcile(
    file: StoredFile,
    accounts: dict[str, Account],
    policy: PlacementPolicy,
    stored: Mapping[str, int],
) -> bool:
    """Whether reconciling would change or queue anything (planned in memory, no write)."""
    plan = plan_file(file, accounts, policy, stored)
    return plan.writes or bool(plan.replicate or plan.remove) or plan.drop_staging


async def backfill_account(r: Replicator, account_id: str) -> int:
    """Give an account (new, re-enabled, new credentials) the uploaded files placement puts on
    it; the number of files reconciled.

    Replicas the account refused before (quota, credentials) are tried again: what changed
    may have fixed it, and a refusal only marks them skipped again. Other files are planned
    in memory first, so a file already at its placement costs no write.
    """
    account = await repository.get_account(account_id)
    if account is None or not can_take_replicas(account):
        return 0
    accounts = {a.id: a for a in await repository.live_accounts()}
    key = f"replicas.{account_id}"
    reconciled = 0
    async for file in repository.uploaded_files(BACKFILL_BATCH):
        replica = file.replicas.get(account_id)
        refused = replica is not None and replica.state == ReplicaState.FAILED and replica.skip
        if refused:
            await repository.change(
                StoredFile,
                file.id,
                unset=(key,),
                where={f"{key}.state": ReplicaState.FAILED.value, f"{key}.skip": True},
            )
        elif not _needs_reconcile(file, accounts, r.policy, await r.stored(accounts)):
            continue
        await reconcile(r, file.id)
        reconciled += 1
    log.info("account %s: backfill reconciled %d files", account_id, reconciled)
    return reconciled


async def _sweep_placement(r: Replicator) -> None:
    """Reconcile the uploaded files of the next window that are off their placement.

    A window per sweep, round robin by id, so a sweep handles a bounded number of files
    whatever the catalog; the backfill job, not this, is what places files promptly.
    """
    files = await repository.uploaded_files_after(r.placement_cursor, PLACEMENT_SWEEP_FILES)
    r.placement_cursor = files[-1].id if len(files) == PLACEMENT_SWEEP_FILES else ""
    if not files:
        return
    accounts = {a.id: a for a in await repository.live_accounts()}
    for file in files:
        if _needs_reconcile(file, accounts, r.policy, await r.stored(accounts)):
            await reconcile(r, file.id)


async def sweep(r: Replicator, *, orphans_after: timedelta) -> None:
    """Periodic safety net: resume whatever a lost job or a crash left unfinished."""
    for file in await repository.files_in_progress(limit=1000):
        await reconcile(r, file.id)
    await _sweep_placement(r)
    for account in await repository.draining_accounts():
        await drain_account(r, account.id)
    for session in await repository.expired_sessions(limit=100):
        await r.staging.delete(session.staging_id)
        await session.delete()
    for batch in await repository.stale_batches(timedelta(minutes=1)):
        await commit_batch(batch=batch, jobs=r.jobs)
    for staging_id in await r.staging.candidates_for_sweep(orphans_after):
        if not await repository.staging_in_use(staging_id):
            log.info("deleting orphaned staged bytes %s", staging_id)
            await r.staging.delete(staging_id)
    await r.jobs.relay()
