"""``/files``: upload (streamed, single or batch), read, change, retry and delete files.

Every route needs the admin credential, reads included: a file's replicas name their Drive
ids, and a Drive id is a download link that bypasses the Downloader's budget (anyone could
fetch it without a lease or a charge). Clients download through the Downloader.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, status
from pydantic import AwareDatetime

from services.shared.events import FileStatus
from services.shared.openapi import errors
from services.uploader import batch, repository, service
from services.uploader.deps import FileDep, JobsDep, SettingsDep, StagingDep, require_admin
from services.uploader.errors import Invalid
from services.uploader.schemas import (
    BatchRead,
    FileCursor,
    FilePage,
    FileRead,
    FileSort,
    FileUpdate,
    Sha256,
)

router = APIRouter(
    prefix="/files",
    tags=["files"],
    dependencies=[Depends(require_admin)],
    responses=errors(401),
)
UNKNOWN = "no such file (or deleted)"

RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The file's bytes, streamed; its media type is the Content-Type header.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
MULTIPART_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One part per file, each with a filename; all are registered or none.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            }
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FileRead,
    openapi_extra=RAW_BODY,
    responses=errors(413),
)
async def upload_file(
    request: Request,
    settings: SettingsDep,
    staging: StagingDep,
    jobs: JobsDep,
    name: Annotated[str, Query(description="the file's name")],
    sha256: Annotated[Sha256 | None, Query(description="refuse the upload if it differs")] = None,
    content_type: Annotated[str | None, Header()] = None,
    content_length: Annotated[int | None, Header(ge=0)] = None,
) -> FileRead:
    """Stream the body into staging; answers at once with the file ``replicating``."""
    file = await service.upload_file(
        source=request.stream(),
        name=name,
        content_type=content_type,
        declared_size=content_length,
        sha256=sha256,
        settings=settings,
        staging=staging,
        jobs=jobs,
    )
    return FileRead.of(file)


@router.post(
    ":batch",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BatchRead,
    openapi_extra=MULTIPART_BODY,
    responses=errors(413),
)
async def upload_batch(
    request: Request,
    settings: SettingsDep,
    staging: StagingDep,
    jobs: JobsDep,
    content_type: Annotated[str | None, Header()] = None,
) -> BatchRead:
    """Upload several files at once: every one is registered, or none is."""
    files = await batch.upload_batch(
        source=request.stream(),
        content_type=content_type,
        settings=settings,
        staging=staging,
        jobs=jobs,
    )
    return BatchRead(files=[FileRead.of(f) for f in files])


@router.get("", response_model=FilePage)
async def list_files(
    status_: Annotated[FileStatus | None, Query(alias="status")] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    content_type: Annotated[str | None, Query(max_length=255)] = None,
    updated_after: Annotated[
        AwareDatetime | None,
        Query(description="only files changed at or after this instant (RFC 3339, with offset)"),
    ] = None,
    sort: Annotated[
        FileSort, Query(description="-created_at: newest first; updated_at: oldest change first")
    ] = FileSort.NEWEST,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="the previous page's `next`: continue from there (offset must be 0)",
        ),
    ] = None,
    count: Annotated[
        bool, Query(description="false: no `total` (it costs a scan of every file)")
    ] = True,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FilePage:
    """Live files (``deleting`` ones included), filtered; deleted ones are gone (404)."""
    cursor = _cursor(after, sort, offset) if after else None
    items, total = await repository.list_files(
        offset=offset,
        limit=limit,
        status=status_,
        name_prefix=name_prefix,
        content_type=content_type,
        updated_after=updated_after,
        by_update=sort == FileSort.UPDATED,
        after=(cursor.key, cursor.id) if cursor else None,
        count=count,
    )
    following = FileCursor.after(items[-1], sort).encode() if len(items) == limit else None
    return FilePage(
        items=[FileRead.of(f) for f in items],
        total=total,
        offset=offset,
        limit=limit,
        next=following,
    )


def _cursor(after: str, sort: FileSort, offset: int) -> FileCursor:
    if offset:
        raise Invalid("give either `after` or `offset`, not both")
    try:
        cursor = FileCursor.decode(after)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if cursor.sort != sort:
        raise Invalid(f"this cursor continues a listing sorted by {cursor.sort.value}")
    return cursor


@router.get("/{file_id}", response_model=FileRead, responses=errors(_404=UNKNOWN))
async def get_file(file: FileDep) -> FileRead:
    """One file with its replicas."""
    return FileRead.of(file)


@router.patch(
    "/{file_id}",
    response_model=FileRead,
    responses=errors(400, _404=UNKNOWN, _409="being deleted, or changed meanwhile"),
)
async def update_file(file_id: str, data: FileUpdate, jobs: JobsDep) -> FileRead:
    """Rename, fix the content type, or ask for a number of replicas."""
    return FileRead.of(await service.update_file(file_id=file_id, data=data, jobs=jobs))


@router.delete(
    "/{file_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FileRead,
    responses=errors(_404=UNKNOWN),
)
async def delete_file(file_id: str, jobs: JobsDep) -> FileRead:
    """Delete a file: out of the Downloader's choices first, then off every account."""
    return FileRead.of(await service.delete_file(file_id=file_id, jobs=jobs))


@router.post(
    "/{file_id}:retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FileRead,
    responses=errors(_404=UNKNOWN, _409="being deleted, or changed meanwhile"),
)
async def retry_file(file_id: str, jobs: JobsDep) -> FileRead:
    """Retry a failed file's replication with a fresh attempt budget."""
    return FileRead.of(await service.retry_file(file_id=file_id, jobs=jobs))
