"""File operations shared by the routes: visibility, creation, copy, deletion, the JSON shape.

Visibility follows Drive: the owner sees a file, anyone sees a file shared with anyone, and a
file one may not see is simply "not found". Every new file (upload or copy) passes the owner's
upload and storage limits and is charged to the day's upload ledger.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request

from services.drive_emulator import errors
from services.drive_emulator.runtime import Runtime
from services.drive_emulator.store import Account, FileRecord
from services.drive_emulator.streaming import MeteredFileResponse, parse_range

HASH_PIECE = 1024 * 1024


def new_id() -> str:
    """A Drive-like file id (33 URL-safe characters)."""
    return "1" + secrets.token_urlsafe(24)


def root_id(account: Account) -> str:
    """The id of the account's My Drive root folder ('root' in queries)."""
    return f"0A{account.id}"


def timestamp(runtime: Runtime) -> str:
    """The emulated now, RFC 3339 with milliseconds, as Drive writes times."""
    now = runtime.clock.now()
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def file_resource(
    record: FileRecord, owner: Account, *, viewer: Account | None, root_url: str
) -> dict[str, Any]:
    """The Drive v3 ``File`` resource of ``record`` as ``viewer`` sees it."""
    query = urlencode({"id": record.id, "export": "download"})
    return {
        "kind": "drive#file",
        "id": record.id,
        "name": record.name,
        "mimeType": record.mime_type,
        "size": str(record.size),
        "md5Checksum": record.md5,
        "parents": record.parents,
        "trashed": False,
        "shared": record.anyone_reader,
        "createdTime": record.created_at,
        "modifiedTime": record.modified_at,
        "webContentLink": f"{root_url}uc?{query}",
        "owners": [
            {
                "kind": "drive#user",
                "displayName": owner.display_name,
                "emailAddress": owner.email,
                "me": viewer is not None and viewer.id == owner.id,
                "permissionId": owner.id,
            }
        ],
    }


async def visible_file(runtime: Runtime, file_id: str, viewer: Account | None) -> FileRecord:
    """The file if ``viewer`` (None: anonymous) may read it, else Drive's 404."""
    record = await runtime.store.file(file_id)
    if record is None:
        raise errors.not_found(file_id)
    if record.anyone_reader or (viewer is not None and viewer.id == record.account_id):
        return record
    raise errors.not_found(file_id)


async def owner_of(runtime: Runtime, record: FileRecord) -> Account:
    owner = await runtime.store.account(record.account_id)
    if owner is None:  # accounts are never deleted, so a file always has one
        raise errors.not_found(record.id)
    return owner


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        while piece := file.read(HASH_PIECE):
            digest.update(piece)
    return digest.hexdigest()


async def create_file(
    runtime: Runtime,
    *,
    account: Account,
    metadata: dict[str, Any],
    mime_type: str,
    content: Path,
    link: bool = False,
    md5: str | None = None,
    upload_cap: bool = True,
) -> FileRecord:
    """Store ``content`` as a new file of ``account`` (moved in, or hard-linked for a copy)."""
    size = (await anyio.Path(content).stat()).st_size
    await runtime.quotas.check_new_file(account, size, upload_cap=upload_cap)
    now = timestamp(runtime)
    parents = metadata.get("parents") or [root_id(account)]
    record = FileRecord(
        id=new_id(),
        account_id=account.id,
        name=str(metadata.get("name") or "Untitled"),
        mime_type=str(metadata.get("mimeType") or mime_type),
        size=size,
        md5=md5 if md5 is not None else await anyio.to_thread.run_sync(md5_of, content),
        parents=[str(parent) for parent in parents],
        anyone_reader=False,
        created_at=now,
        modified_at=now,
    )
    await runtime.store.add_file(record, content, link=link)
    await runtime.quotas.record_upload(account, size)
    await runtime.refresh_stored(account.id)
    return record


async def copy_file(
    runtime: Runtime, *, account: Account, source: FileRecord, metadata: dict[str, Any]
) -> FileRecord:
    """A server-side copy owned by ``account``: no byte crosses the network."""
    wanted = {"name": f"Copy of {source.name}", **metadata}
    return await create_file(
        runtime,
        account=account,
        metadata=wanted,
        mime_type=source.mime_type,
        content=runtime.store.blob(source.id),
        link=True,
        md5=source.md5,
    )


async def delete_file(runtime: Runtime, *, account: Account, record: FileRecord) -> None:
    """Delete for good; only the owner may."""
    if record.account_id != account.id:
        raise errors.insufficient_permissions(record.id)
    await runtime.store.delete_file(record.id)
    await runtime.refresh_stored(account.id)


async def serve_file(
    runtime: Runtime,
    request: Request,
    record: FileRecord,
    owner: Account,
    *,
    drop_after: int | None,
    headers: dict[str, str] | None = None,
) -> MeteredFileResponse:
    """The file's bytes (or the requested range), charged to the owner's download budget."""
    span = parse_range(request.headers.get("range"), record.size)
    start, end = span if span else (0, record.size - 1)
    reservation = await runtime.quotas.reserve_download(owner, record, end - start + 1)
    answer = {
        "Content-Type": record.mime_type,
        "Content-Length": str(end - start + 1),
        "Accept-Ranges": "bytes",
        **(headers or {}),
    }
    if span:
        answer["Content-Range"] = f"bytes {start}-{end}/{record.size}"

    async def settle(sent: int) -> None:
        await runtime.quotas.settle(reservation, sent)

    return MeteredFileResponse(
        runtime.store.blob(record.id),
        start=start,
        end=end,
        status_code=206 if span else 200,
        headers=answer,
        account_id=owner.id,
        on_done=settle,
        drop_after=drop_after,
    )
