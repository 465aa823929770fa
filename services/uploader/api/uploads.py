"""``/uploads``: resumable client uploads, so a dropped connection does not restart a 10 GB file.

Drive-style: create a session, ``PUT`` ranges with ``Content-Range: bytes first-last/size``
(every range but the last a multiple of the session's ``chunk_bytes``), ask the session for
its ``offset`` after a failure and continue from there, then finish it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status

from services.shared.openapi import errors
from services.uploader import service
from services.uploader.api.files import RAW_BODY
from services.uploader.deps import JobsDep, SettingsDep, StagingDep, require_admin
from services.uploader.schemas import FileRead, UploadSessionCreate, UploadSessionRead

router = APIRouter(
    prefix="/uploads",
    tags=["uploads"],
    dependencies=[Depends(require_admin)],
    responses=errors(401),
)
UNKNOWN = "no such session (finished, aborted or expired)"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadSessionRead,
    responses=errors(400, 413),
)
async def create_session(
    data: UploadSessionCreate, settings: SettingsDep, response: Response
) -> UploadSessionRead:
    """Open a resumable upload session."""
    session = await service.create_session(data=data, settings=settings)
    response.headers["Location"] = f"/uploads/{session.id}"
    return UploadSessionRead.of(session)


@router.get("/{session_id}", response_model=UploadSessionRead, responses=errors(_404=UNKNOWN))
async def get_session(session_id: str) -> UploadSessionRead:
    """The session, with the offset the next range must start at."""
    return UploadSessionRead.of(await service.get_session(session_id=session_id))


@router.put(
    "/{session_id}",
    response_model=UploadSessionRead,
    openapi_extra=RAW_BODY,
    responses=errors(
        _404=UNKNOWN, _409="finished, or the range does not start at the session's offset"
    ),
)
async def put_range(
    session_id: str,
    request: Request,
    staging: StagingDep,
    content_range: Annotated[str | None, Header()] = None,
) -> UploadSessionRead:
    """Store one range of bytes."""
    session = await service.put_range(
        session_id=session_id,
        content_range=content_range,
        source=request.stream(),
        staging=staging,
    )
    return UploadSessionRead.of(session)


@router.post(
    "/{session_id}:finish",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=FileRead,
    responses=errors(_404=UNKNOWN, _409="bytes are missing, or the session is finishing"),
)
async def finish_session(session_id: str, staging: StagingDep, jobs: JobsDep) -> FileRead:
    """Check the upload is complete and register the file (its id is the session's)."""
    file, _ = await service.finish_session(session_id=session_id, staging=staging, jobs=jobs)
    return FileRead.of(file)


@router.delete(
    "/{session_id}", status_code=status.HTTP_204_NO_CONTENT, responses=errors(_404=UNKNOWN)
)
async def abort_session(session_id: str, staging: StagingDep) -> None:
    """Abandon the session and the bytes received so far."""
    await service.abort_session(session_id=session_id, staging=staging)
