"""What the Uploader's API does: accounts, files, staging, resumable sessions, batches.

Every function is keyword-only and talks to the database through :mod:`repository`; changes
that the Downloader must learn are outboxed there, and the relay is nudged afterwards (the
periodic relay catches anything a lost nudge missed). Replication itself runs in the worker
(:mod:`services.uploader.replication`); here a new file only gets its reconcile job queued.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.drive.credentials import CredentialsError, parse_credentials
from services.drive.errors import AuthError, DriveError, QuotaExceeded
from services.shared.days import utcnow
from services.shared.events import FileStatus, ReplicaState
from services.uploader import repository
from services.uploader.config import Settings
from services.uploader.drives import DriveClients
from services.uploader.errors import Conflict, Invalid, NotFound, PayloadTooLarge, Unavailable
from services.uploader.jobs import Jobs
from services.uploader.metrics import BYTES_STAGED, FILES_STAGED
from services.uploader.models import (
    Account,
    AccountHealth,
    StoredFile,
    UploadSession,
    new_id,
)
from services.uploader.schemas import (
    DEFAULT_CONTENT_TYPE,
    AccountCheck,
    AccountCreate,
    AccountRead,
    AccountUpdate,
    FileUpdate,
    Page,
    UploadSessionCreate,
    check_content_type,
    check_file_name,
)
from services.uploader.staging import (
    EmptyUpload,
    RangeError,
    Staged,
    Staging,
    StagingError,
    TooLarge,
)
from services.uploader.vault import Vault

log = logging.getLogger(__name__)


# Accounts -----------------------------------------------------------------------------------


def _credentials_kind(credentials: dict[str, Any]) -> str:
    try:
        return parse_credentials(credentials).kind
    except CredentialsError as exc:
        raise Invalid(f"credentials: {exc}") from None


async def create_account(*, data: AccountCreate, vault: Vault, jobs: Jobs) -> Account:
    """Register a Drive account; its credentials are checked, then stored encrypted.

    Its backfill is queued at once: placement may put existing files on it.
    """
    kind = _credentials_kind(data.credentials)
    account = Account(
        email=data.email,
        display_name=data.display_name,
        credentials_kind=kind,
        credentials=vault.seal(data.credentials),
        daily_budget_bytes=data.daily_budget_bytes,
        storage_limit_bytes=data.storage_limit_bytes,
        enabled=data.enabled,
        managed_by=data.managed_by,
    )
    try:
        await account.insert()
    except DuplicateKeyError:
        raise Conflict(f"an account with email {data.email!r} exists already") from None
    log.info("account %s (%s) registered", account.id, account.email)
    await jobs.relay()
    await jobs.backfill_account(account.id)
    return account


async def get_account(*, account_id: str) -> Account:
    """A live account, or 404."""
    account = await repository.get_account(account_id)
    if account is None:
        raise NotFound(f"no account with id {account_id!r}")
    return account


def _read(account: Account, held: repository.Holdings) -> AccountRead:
    return AccountRead.of(account, replicas=held.ready, stored_bytes=held.stored_bytes)


async def account_read(account: Account) -> AccountRead:
    """The account as the API shows it, with its replicas and the bytes they take."""
    held = await repository.holdings([account.id])
    return _read(account, held[account.id])


async def list_accounts(*, offset: int, limit: int, email: str | None) -> Page[AccountRead]:
    """A page of accounts by email (one pass over the files counts the page's replicas)."""
    items, total = await repository.list_accounts(offset=offset, limit=limit, email=email)
    held = await repository.holdings([a.id for a in items])
    return Page(
        items=[_read(a, held[a.id]) for a in items],
        total=total,
        offset=offset,
        limit=limit,
    )


def _check_manager(account: Account, manager: str | None) -> None:
    """A managed account changes only through its manager, so the two never fight."""
    if account.managed_by is not None and manager != account.managed_by:
        raise Conflict(
            f"account {account.id!r} ({account.email}) is managed by {account.managed_by}: "
            "change its DriveAccount resource instead",
            managed_by=account.managed_by,
        )


async def _refused_write(account_id: str, manager: str | None) -> Conflict:
    """Why a conditional write to an account matched nothing."""
    current = await get_account(account_id=account_id)
    if current.draining:
        return Conflict(f"account {account_id!r} is being deleted")
    _check_manager(current, manager)
    return Conflict(f"account {account_id!r} changed meanwhile; read it again and retry")


async def update_account(
    *, account_id: str, data: AccountUpdate, manager: str | None, vault: Vault, jobs: Jobs
) -> Account:
    """Change an account; new credentials also clear an authentication failure.

    New credentials or re-enabling queue a backfill: the account may take files it could not.
    """
    current = await get_account(account_id=account_id)
    _check_manager(current, manager)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"credentials"})
    nullable = ("managed_by", "storage_limit_bytes")
    if any(value is None for key, value in changes.items() if key not in nullable):
        raise Invalid("fields of an account update may be omitted but not null")
    limit = changes.get("storage_limit_bytes")
    if limit is not None and limit != current.storage_limit_bytes:
        held = (await repository.holdings([account_id]))[account_id].stored_bytes
        if limit < held:
            raise Conflict(
                f"storage_limit_bytes {limit} is below the {held} bytes account {account_id!r} "
                "already holds: raise it, or lower the replicas placed on it first"
            )
    if data.credentials is not None:
        changes["credentials_kind"] = _credentials_kind(data.credentials)
        changes["credentials"] = vault.seal(data.credentials)
        changes["health"] = AccountHealth.OK.value
        changes["health_reason"] = None
    if current.draining:
        raise Conflict(f"account {account_id!r} is being deleted")
    try:
        updated = await repository.change(
            Account,
            account_id,
            set_=changes,
            where={"draining": False, "managed_by": current.managed_by},
        )
    except DuplicateKeyError:
        raise Conflict(f"an account with email {changes.get('email')!r} exists already") from None
    if updated is None:
        raise await _refused_write(account_id, manager)
    await jobs.relay()
    if data.credentials is not None or (changes.get("enabled") is True and not current.enabled):
        await jobs.backfill_account(account_id)
    elif changes.get("enabled") is False and current.enabled:
        cancelled = await jobs.cancel_account(account_id)
        log.info("account %s disabled: %d queued copies to it cancelled", account_id, cancelled)
        await jobs.release_account(account_id)
    return updated


async def delete_account(*, account_id: str, manager: str | None, jobs: Jobs) -> Account:
    """Start draining an account: out of the Downloader's choices now, off Drive after."""
    current = await get_account(account_id=account_id)
    _check_manager(current, manager)
    account = await repository.change(
        Account,
        account_id,
        set_={"draining": True},
        where={"draining": False, "managed_by": current.managed_by},
    )
    if account is None:
        account = await get_account(account_id=account_id)
        if not account.draining:
            raise await _refused_write(account_id, manager)
        # already draining: deleting twice is the same request
    cancelled = await jobs.cancel_account(account_id)
    log.info("account %s is being drained (%d queued copies cancelled)", account_id, cancelled)
    await jobs.relay()
    await jobs.drain_account(account_id)
    return account


async def check_account(*, account_id: str, drives: DriveClients, jobs: Jobs) -> AccountCheck:
    """Ask Drive who the stored credentials are (one cheap call) and record the answer.

    A refusal marks the account ``auth_failed`` as replication would; an acceptance clears
    that mark and queues a backfill. Drive unreachable or failing is no verdict: 503.
    """
    account = await get_account(account_id=account_id)
    try:
        about = await drives.client(account).about()
    except AuthError as exc:
        await repository.set_health(account, AccountHealth.AUTH_FAILED, str(exc))
        return AccountCheck(
            ok=False, reason=str(exc), storage_used_bytes=None, storage_limit_bytes=None
        )
    except DriveError as exc:
        if exc.retryable or isinstance(exc, QuotaExceeded):
            raise Unavailable(f"Drive could not check account {account_id!r} now: {exc}") from exc
        return AccountCheck(
            ok=False, reason=str(exc), storage_used_bytes=None, storage_limit_bytes=None
        )
    if account.health == AccountHealth.AUTH_FAILED:
        await repository.set_health(account, AccountHealth.OK, None)
        await jobs.backfill_account(account_id)
    if about.storage_limit != account.drive_storage_limit_bytes:
        # Bookkeeping of placement (the Downloader does not mirror it): no event.
        await repository.note(
            Account, account_id, set_={"drive_storage_limit_bytes": about.storage_limit}
        )
    return AccountCheck(
        ok=True,
        reason=None,
        storage_used_bytes=about.storage_usage,
        storage_limit_bytes=about.storage_limit,
    )


# Files --------------------------------------------------------------------------------------


async def get_file(*, file_id: str) -> StoredFile:
    """A live file, or 404."""
    file = await repository.get_file(file_id)
    if file is None:
        raise NotFound(f"no file with id {file_id!r}")
    return file


async def update_file(*, file_id: str, data: FileUpdate, jobs: Jobs) -> StoredFile:
    """Rename a file, fix its content type, or change how many replicas it should have."""
    file = await get_file(file_id=file_id)
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    if file.status == FileStatus.DELETING:
        raise Conflict(f"file {file_id!r} is being deleted")
    if changes.get("name", "") is None or changes.get("content_type", "") is None:
        raise Invalid("name and content_type may be omitted but not null")
    # An uploaded file stays uploaded (downloadable) while copies are added or removed.
    replan = "desired_replicas" in changes and changes["desired_replicas"] != file.desired_replicas
    updated = await repository.change(StoredFile, file_id, set_=changes, where={"seq": file.seq})
    if updated is None:
        raise Conflict(f"file {file_id!r} changed meanwhile; read it again and retry")
    if replan:
        await jobs.reconcile_file(file_id)
    await jobs.relay()
    return updated


async def delete_file(*, file_id: str, jobs: Jobs) -> StoredFile:
    """Start deleting a file: out of the Downloader's choices first, off Drive after."""
    file = await get_file(file_id=file_id)
    if file.status != FileStatus.DELETING:
        changed = await repository.change(
            StoredFile,
            file_id,
            set_={"status": FileStatus.DELETING.value},
            where={"status": {"$ne": FileStatus.DELETING.value}},
        )
        file = changed or await get_file(file_id=file_id)
    await jobs.reconcile_file(file_id)
    await jobs.relay()
    return file


async def retry_file(*, file_id: str, jobs: Jobs) -> StoredFile:
    """Give a failed file (or its failed replicas) a new retry budget.

    An uploaded file stays uploaded: only its failed replicas are tried again.
    """
    file = await get_file(file_id=file_id)
    if file.status == FileStatus.DELETING:
        raise Conflict(f"file {file_id!r} is being deleted")
    reset: dict[str, Any] = {}
    for account_id, replica in file.replicas.items():
        if replica.state == ReplicaState.FAILED:
            reset[f"replicas.{account_id}.state"] = ReplicaState.PENDING.value
            reset[f"replicas.{account_id}.attempts"] = 0
            reset[f"replicas.{account_id}.error"] = None
            reset[f"replicas.{account_id}.skip"] = False
    if file.status != FileStatus.UPLOADED:
        reset.update(status=FileStatus.REPLICATING.value, failure_reason=None)
    updated = await repository.change(StoredFile, file_id, set_=reset, where={"seq": file.seq})
    if updated is None:
        raise Conflict(f"file {file_id!r} changed meanwhile; retry")
    await jobs.reconcile_file(file_id)
    await jobs.relay()
    return updated


# Staging ------------------------------------------------------------------------------------


def _check_declared_size(declared: int | None, settings: Settings) -> None:
    if declared is not None and declared > settings.max_upload_bytes:
        raise PayloadTooLarge(
            f"the file is larger than the limit of {settings.max_upload_bytes} bytes"
        )


def _as_domain(exc: StagingError) -> Exception:
    if isinstance(exc, TooLarge):
        return PayloadTooLarge(str(exc))
    if isinstance(exc, EmptyUpload):
        return Invalid(str(exc))
    return Conflict(str(exc))


async def upload_file(
    *,
    source: AsyncIterator[bytes],
    name: str,
    content_type: str | None,
    declared_size: int | None,
    sha256: str | None,
    settings: Settings,
    staging: Staging,
    jobs: Jobs,
) -> StoredFile:
    """Stream a request body into GridFS and register it as ``replicating``."""
    name, content_type = _checked_meta(name, content_type)
    _check_declared_size(declared_size, settings)
    file_id = new_id()
    try:
        staged = await staging.stage(
            source, file_id=file_id, filename=name, limit=settings.max_upload_bytes
        )
    except StagingError as exc:
        raise _as_domain(exc) from None
    if sha256 is not None and staged.sha256 != sha256:
        await staging.delete(staged.staging_id)
        raise Invalid(f"sha256 mismatch: received bytes hash to {staged.sha256}")
    file = _file_record(file_id, name, content_type, staged)
    try:
        await file.insert()
    except BaseException:
        await staging.delete(staged.staging_id)
        raise
    BYTES_STAGED.labels("single").inc(staged.size)
    FILES_STAGED.labels("single").inc()
    log.info("file %s (%r, %d bytes) staged", file.id, name, staged.size)
    await jobs.reconcile_file(file.id)
    await jobs.relay()
    return file


def _checked_meta(name: str, content_type: str | None) -> tuple[str, str]:
    try:
        return check_file_name(name), check_content_type(content_type or DEFAULT_CONTENT_TYPE)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _file_record(file_id: str, name: str, content_type: str, staged: Staged) -> StoredFile:
    return StoredFile(
        id=file_id,
        name=name,
        size=staged.size,
        content_type=content_type,
        sha256=staged.sha256,
        staging_id=staged.staging_id,
    )


# Resumable sessions -------------------------------------------------------------------------


async def create_session(*, data: UploadSessionCreate, settings: Settings) -> UploadSession:
    """Open a resumable upload: the client then PUTs ranges and finishes it."""
    _check_declared_size(data.size, settings)
    session = UploadSession(
        name=data.name,
        content_type=data.content_type,
        size=data.size,
        sha256=data.sha256,
        chunk_bytes=settings.chunk_bytes,
        expires_at=utcnow() + timedelta(seconds=settings.upload_session_ttl_seconds),
    )
    await session.insert()
    return session


async def get_session(*, session_id: str) -> UploadSession:
    """A live session, or 404."""
    session = await repository.get_session(session_id)
    if session is None or session.expires_at < utcnow():
        raise NotFound(f"no upload session with id {session_id!r} (finished, aborted or expired)")
    return session


def parse_content_range(header: str | None, *, size: int) -> tuple[int, int]:
    """``bytes <first>-<last>/<size>`` → (first, last + 1)."""
    if not header:
        raise Invalid("a range needs a 'Content-Range: bytes <first>-<last>/<size>' header")
    unit, _, spec = header.strip().partition(" ")
    span, _, total = spec.partition("/")
    first, _, last = span.partition("-")
    try:
        begin, end, declared = int(first), int(last) + 1, int(total)
    except ValueError:
        raise Invalid(f"malformed Content-Range {header!r}") from None
    if unit != "bytes" or not 0 <= begin < end:
        raise Invalid(f"malformed Content-Range {header!r}")
    if declared != size or end > size:
        raise Invalid(f"Content-Range {header!r} does not fit the session's {size} bytes")
    return begin, end


async def put_range(
    *, session_id: str, content_range: str | None, source: AsyncIterator[bytes], staging: Staging
) -> UploadSession:
    """Store one range of a session; its answer's ``offset`` is where the next one starts."""
    session = await get_session(session_id=session_id)
    begin, end = parse_content_range(content_range, size=session.size)
    if session.file_id is not None:
        raise Conflict("the upload is finished already")
    if begin != session.offset:
        raise Conflict(f"the next range must start at byte {session.offset}", offset=session.offset)
    received = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal received
        async for block in source:
            received += len(block)
            if received > end - begin:
                raise Invalid(f"the body is longer than the {end - begin} bytes of its range")
            yield block

    reached = begin

    async def stored(offset: int) -> None:
        nonlocal reached
        if not await repository.advance_session(session_id, expected=reached, offset=offset):
            raise Conflict("another request is writing this session; ask for its offset")
        reached = offset

    try:
        await staging.write_range(
            counted(),
            staging_id=session.staging_id,
            start=begin,
            total=session.size,
            stored=stored,
        )
    except StagingError as exc:
        raise _as_domain(exc) from None
    BYTES_STAGED.labels("session").inc(reached - begin)
    session.offset = reached
    return session


async def finish_session(
    *, session_id: str, staging: Staging, jobs: Jobs
) -> tuple[StoredFile, bool]:
    """Turn a complete session into a file (id = session id); (file, created now)."""
    session = await repository.get_session(session_id)
    if session is None:
        file = await repository.get_file(session_id)
        if file is not None:  # finished by an earlier call whose answer was lost
            return file, False
        raise NotFound(f"no upload session with id {session_id!r}")
    if session.offset != session.size:
        raise Conflict(
            f"only {session.offset} of {session.size} bytes were received",
            offset=session.offset,
        )
    try:
        sha256 = await staging.seal(
            staging_id=session.staging_id,
            size=session.size,
            file_id=session.id,
            filename=session.name,
        )
    except RangeError as exc:
        raise Conflict(str(exc)) from None
    if session.sha256 is not None and sha256 != session.sha256:
        await staging.delete(session.staging_id)
        await session.delete()
        raise Invalid(f"sha256 mismatch: received bytes hash to {sha256}; upload discarded")
    staged = Staged(staging_id=session.staging_id, size=session.size, sha256=sha256)
    file = _file_record(session.id, session.name, session.content_type, staged)
    created = True
    try:
        await file.insert()
    except DuplicateKeyError:
        created = False
        file = await get_file(file_id=session.id)
    await session.delete()
    if created:
        FILES_STAGED.labels("session").inc()
        await jobs.reconcile_file(file.id)
        await jobs.relay()
    return file, created


async def abort_session(*, session_id: str, staging: Staging) -> None:
    """Drop an unfinished session and the bytes it received."""
    session = await get_session(session_id=session_id)
    await staging.delete(session.staging_id)
    await session.delete()
