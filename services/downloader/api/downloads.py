"""The public download endpoint: what every user request hits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.downloader import service
from services.downloader.deps import RuntimeDep
from services.downloader.schemas import DownloadTicket

router = APIRouter(prefix="/files", tags=["downloads"])

FileId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~-]+$")]


@router.get(
    "/{file_id}/download",
    response_model=DownloadTicket,
    responses={
        302: {"description": "redirect=true: the download URL in Location"},
        404: {"description": "unknown file"},
        409: {"description": "file not uploaded yet"},
        416: {"description": "offset or range beyond the file"},
        503: {"description": "no account has budget for it today (see Retry-After)"},
    },
)
async def download(
    rt: RuntimeDep,
    file_id: FileId,
    offset: Annotated[int | None, Query(ge=0, description="first byte to read")] = None,
    length: Annotated[int | None, Query(ge=1, description="bytes to read")] = None,
    redirect: Annotated[bool, Query(description="answer 302 to the URL")] = False,
    range_header: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    """Issue a download URL on the next account with budget (charged: the bytes requested)."""
    ticket = await service.issue_download(
        rt=rt, file_id=file_id, offset=offset, length=length, range_header=range_header
    )
    if redirect:
        return RedirectResponse(
            ticket.url, status_code=302, headers={"X-Download-Id": str(ticket.id)}
        )
    # Serialised here rather than through response_model: it skips a second validation pass
    # on the hottest path.
    return JSONResponse(ticket.model_dump(mode="json"))
