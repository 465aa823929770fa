"""Data access for the Uploader: every query and update of its documents lives here.

Writes to accounts and files go through :func:`change`, which turns any change into one
single-document update that also bumps ``seq`` and marks the document ``dirty`` — the outbox
rule that lets the relay deliver every change without multi-document transactions. Conditions
(``where``) make the update a compare-and-set: ``None`` comes back when they no longer hold.
Every write holds the document's lock (:mod:`services.uploader.locking`): the Mongo-wire server
does not isolate concurrent writes to one document by itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from beanie import Document, init_beanie
from pymongo import IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from services.shared.days import utcnow
from services.shared.events import FileStatus, ReplicaState
from services.uploader.locking import DocumentLocks
from services.uploader.models import (
    DOCUMENTS,
    INDEXES,
    Account,
    AccountHealth,
    Batch,
    Outboxed,
    StoredFile,
    UploadSession,
)

AggregateT = TypeVar("AggregateT", bound=Outboxed)


_locks: DocumentLocks | None = None


def _lock(model: type[Document], doc_id: str) -> AbstractAsyncContextManager[None]:
    if _locks is None:
        raise RuntimeError("repository.init() must run before any write")
    return _locks.hold(model.get_collection_name(), doc_id)


async def init(database: AsyncDatabase[Any], locks: DocumentLocks) -> None:
    """Bind the documents to ``database``, create their indexes (idempotent), set the locks."""
    global _locks
    _locks = locks
    await init_beanie(database=database, document_models=DOCUMENTS, skip_indexes=True)
    for model, indexes in INDEXES.items():
        collection = model.get_pymongo_collection()
        for index in indexes:
            await collection.create_index(index.document["key"], **_options(index))


def _options(index: IndexModel) -> dict[str, Any]:
    return {k: v for k, v in index.document.items() if k not in {"key", "name"}}


async def change(
    model: type[AggregateT],
    doc_id: str,
    *,
    set_: Mapping[str, Any] | None = None,
    unset: tuple[str, ...] = (),
    inc: Mapping[str, int] | None = None,
    where: Mapping[str, Any] | None = None,
) -> AggregateT | None:
    """Apply one outboxed change to a live document; the document after it, or None."""
    update: dict[str, Any] = {
        "$set": {**(set_ or {}), "dirty": True, "updated_at": utcnow()},
        "$inc": {**(inc or {}), "seq": 1},
    }
    if unset:
        update["$unset"] = dict.fromkeys(unset, "")
    async with _lock(model, doc_id):
        raw = await model.get_pymongo_collection().find_one_and_update(
            {**(where or {}), "_id": doc_id, "deleted": False},
            update,
            return_document=ReturnDocument.AFTER,
        )
    return None if raw is None else model.model_validate(raw)


async def note(
    model: type[AggregateT],
    doc_id: str,
    *,
    set_: Mapping[str, Any] | None = None,
    inc: Mapping[str, int] | None = None,
    where: Mapping[str, Any] | None = None,
) -> bool:
    """Change bookkeeping the Downloader does not mirror (attempt counts): no event."""
    update: dict[str, Any] = {}
    if set_:
        update["$set"] = dict(set_)
    if inc:
        update["$inc"] = dict(inc)
    async with _lock(model, doc_id):
        result = await model.get_pymongo_collection().update_one(
            {**(where or {}), "_id": doc_id, "deleted": False}, update
        )
    return result.matched_count == 1


# Accounts -----------------------------------------------------------------------------------


async def get_account(account_id: str) -> Account | None:
    """A live account (not a tombstone)."""
    return await Account.find_one({"_id": account_id, "deleted": False})


async def list_accounts(
    *, offset: int, limit: int, email: str | None = None
) -> tuple[list[Account], int]:
    query: dict[str, Any] = {"deleted": False}
    if email is not None:
        query["email"] = email
    total = await Account.find(query).count()
    items = await Account.find(query).sort("email").skip(offset).limit(limit).to_list()
    return items, total


async def set_health(account: Account, health: AccountHealth, reason: str | None) -> None:
    """Record what Drive said about the account (not mirrored: no event)."""
    if account.health != health:
        await note(Account, account.id, set_={"health": health.value, "health_reason": reason})


HOLDING = (ReplicaState.READY.value, ReplicaState.PENDING.value, ReplicaState.REMOVING.value)
"""Replica states that take (or will take) room on the account."""


@dataclass(frozen=True)
class Holdings:
    """What an account holds: files with a ready replica, bytes its replicas take."""

    ready: int = 0
    stored_bytes: int = 0


async def holdings(account_ids: Sequence[str] | None = None) -> dict[str, Holdings]:
    """Ready replicas and stored bytes (ready, pending or being removed) per account; every
    account when ``account_ids`` is None.

    One pass over the files, whatever the number of accounts: FerretDB 1.24 pushes no filter
    on a nested field down to its storage, so every query is a scan and one scan per account
    would multiply the cost by the page size.
    """
    ready: dict[str, int] = {}
    stored: dict[str, int] = {}
    if account_ids is not None:
        if not account_ids:
            return {}
        ready = dict.fromkeys(account_ids, 0)
        stored = dict.fromkeys(account_ids, 0)
        projection: dict[str, int] = {f"replicas.{aid}.state": 1 for aid in account_ids}
    else:
        projection = {"replicas": 1}
    projection["size"] = 1
    query: dict[str, Any] = {"deleted": False}
    if account_ids is not None and len(account_ids) == 1:
        query[f"replicas.{account_ids[0]}"] = {"$exists": True}
    async for doc in StoredFile.get_pymongo_collection().find(query, projection=projection):
        size = int(doc.get("size", 0))
        for aid, replica in doc.get("replicas", {}).items():
            if account_ids is not None and aid not in ready:
                continue
            state = replica.get("state")
            if state == ReplicaState.READY.value:
                ready[aid] = ready.get(aid, 0) + 1
            if state in HOLDING:
                stored[aid] = stored.get(aid, 0) + size
    ids = account_ids if account_ids is not None else sorted(ready.keys() | stored.keys())
    return {aid: Holdings(ready.get(aid, 0), stored.get(aid, 0)) for aid in ids}


async def draining_accounts() -> list[Account]:
    return await Account.find({"deleted": False, "draining": True}).to_list()


async def live_accounts() -> list[Account]:
    """Every account that is not a tombstone, in a stable order."""
    return await Account.find({"deleted": False}).sort("created_at", "_id").to_list()


# Files --------------------------------------------------------------------------------------


async def get_file(file_id: str) -> StoredFile | None:
    """A live file (not a tombstone)."""
    return await StoredFile.find_one({"_id": file_id, "deleted": False})


async def list_files(
    *,
    offset: int,
    limit: int,
    status: FileStatus | None = None,
    name_prefix: str | None = None,
    content_type: str | None = None,
    updated_after: datetime | None = None,
    by_update: bool = False,
    after: tuple[datetime, str] | None = None,
    count: bool = True,
) -> tuple[list[StoredFile], int | None]:
    """A page of live files, newest first, or by ascending ``updated_at`` (``by_update``).

    ``after`` is the (sort key, id) of the previous page's last file: the page continues
    from there (keyset paging) instead of skipping ``offset`` files. ``count=False`` skips
    the total. Both matter on FerretDB 1.24, which pushes only ``_id`` equality down to
    SQLite: a count is one more scan of the collection, and ``skip`` sorts every file before
    the page on every page.
    """
    query: dict[str, Any] = {"deleted": False}
    if status is not None:
        query["status"] = status.value
    if updated_after is not None:
        query["updated_at"] = {"$gte": updated_after}
    if content_type is not None:
        query["content_type"] = content_type
    if name_prefix:
        # A literal prefix: escape every regex metacharacter of the user's text.
        query["name"] = {"$regex": "^" + _regex_escape(name_prefix)}
    total = await StoredFile.find(query).count() if count else None
    field = "updated_at" if by_update else "created_at"
    if after is not None:
        key, last_id = after
        beyond = {"$gt" if by_update else "$lt": key}
        query = {"$and": [query, {"$or": [{field: beyond}, {field: key, "_id": {"$gt": last_id}}]}]}
    order = (field if by_update else f"-{field}", "_id")
    items = await StoredFile.find(query).sort(*order).skip(offset).limit(limit).to_list()
    return items, total


def _regex_escape(text: str) -> str:
    return "".join("\\" + c if c in r".^$*+?{}[]\|()" else c for c in text)


async def files_in_progress(limit: int) -> list[StoredFile]:
    """Files whose replication or deletion is not finished (for the periodic sweep)."""
    statuses = [FileStatus.REPLICATING.value, FileStatus.DELETING.value]
    return (
        await StoredFile.find({"deleted": False, "status": {"$in": statuses}})
        .limit(limit)
        .to_list()
    )


async def uploaded_files(batch_size: int) -> AsyncIterator[StoredFile]:
    """Every live ``uploaded`` file, in storage order, read in batches by one cursor.

    Unsorted on purpose: FerretDB would sort the whole collection in memory, and paging by id
    would scan it once per page.
    """
    query = {"deleted": False, "status": FileStatus.UPLOADED.value}
    cursor = StoredFile.get_pymongo_collection().find(query, batch_size=batch_size)
    async for doc in cursor:
        yield StoredFile.model_validate(doc)


async def files_pending_on(account_id: str, batch_size: int) -> AsyncIterator[StoredFile]:
    """Live files with a replica still to be made on ``account_id``, read by one cursor."""
    query = {"deleted": False, f"replicas.{account_id}.state": ReplicaState.PENDING.value}
    cursor = StoredFile.get_pymongo_collection().find(query, batch_size=batch_size)
    async for doc in cursor:
        yield StoredFile.model_validate(doc)


async def uploaded_files_after(after: str, limit: int) -> list[StoredFile]:
    """Up to ``limit`` live ``uploaded`` files whose id follows ``after``, by id."""
    query = {"deleted": False, "status": FileStatus.UPLOADED.value, "_id": {"$gt": after}}
    return await StoredFile.find(query).sort("_id").limit(limit).to_list()


async def files_on_account(account_id: str, limit: int) -> list[StoredFile]:
    """Live files that still have a replica entry for ``account_id``."""
    return (
        await StoredFile.find({"deleted": False, f"replicas.{account_id}": {"$exists": True}})
        .limit(limit)
        .to_list()
    )


async def referenced_drive_ids(account_id: str, drive_ids: list[str]) -> set[str]:
    """Which of ``drive_ids`` some file already records as its replica on ``account_id``."""
    key = f"replicas.{account_id}.drive_file_id"
    found = StoredFile.get_pymongo_collection().find(
        {key: {"$in": drive_ids}}, projection={"replicas": 1}
    )
    return {doc["replicas"][account_id]["drive_file_id"] async for doc in found}


async def staging_in_use(staging_id: Any) -> bool:
    """Whether a file, a batch or a session still refers to this GridFS file."""
    if await StoredFile.find_one({"staging_id": staging_id}) is not None:
        return True
    if await UploadSession.find_one({"staging_id": staging_id}) is not None:
        return True
    return await Batch.find_one({"files.staging_id": staging_id}) is not None


async def stale_batches(older_than: timedelta) -> list[Batch]:
    """Batches whose registering was interrupted (a live one takes well under a minute)."""
    return await Batch.find({"created_at": {"$lt": utcnow() - older_than}}).to_list()


# Outbox -------------------------------------------------------------------------------------


async def dirty(model: type[AggregateT], limit: int) -> list[AggregateT]:
    """Documents with changes the Downloader has not acknowledged, tombstones included."""
    return await model.find({"dirty": True}).sort("updated_at").limit(limit).to_list()


async def acknowledge(model: type[AggregateT], doc_id: str, seq: int) -> None:
    """Record that the Downloader holds state ``seq``: clean, or purged if a tombstone.

    Conditional on ``seq``: a document changed since it was sent stays dirty and is sent again.
    """
    collection = model.get_pymongo_collection()
    async with _lock(model, doc_id):
        purged = await collection.delete_one({"_id": doc_id, "seq": seq, "deleted": True})
        if purged.deleted_count:
            return
        cleaned = await collection.update_one(
            {"_id": doc_id, "seq": seq}, {"$set": {"dirty": False, "acked_seq": seq}}
        )
        if not cleaned.matched_count:
            await collection.update_one({"_id": doc_id}, {"$max": {"acked_seq": seq}})


async def bury(
    model: type[AggregateT], doc_id: str, *, where: Mapping[str, Any]
) -> AggregateT | None:
    """Turn a live document into a tombstone (kept until its last event is delivered)."""
    return await change(model, doc_id, set_={"deleted": True}, where=where)


# Upload sessions ----------------------------------------------------------------------------


async def get_session(session_id: str) -> UploadSession | None:
    return await UploadSession.get(session_id)


async def advance_session(session_id: str, *, expected: int, offset: int) -> bool:
    """Move a session's offset from ``expected`` to ``offset``; False if another PUT won."""
    async with _lock(UploadSession, session_id):
        result = await UploadSession.get_pymongo_collection().update_one(
            {"_id": session_id, "offset": expected, "file_id": None}, {"$set": {"offset": offset}}
        )
    return result.modified_count == 1


async def expired_sessions(limit: int) -> list[UploadSession]:
    return await UploadSession.find({"expires_at": {"$lt": utcnow()}}).limit(limit).to_list()
