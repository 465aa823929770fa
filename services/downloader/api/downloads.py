"""The public download endpoint: what every user request hits.

It is the hottest path of the system, so it does less than an ordinary FastAPI route while
keeping the same contract and the same OpenAPI description: the runtime comes from the app state
instead of a dependency, the optional query parameters are validated with one pydantic model
and only when a query string is present (errors are the usual 422), and the answer is
serialised once, straight to bytes, instead of through the response model (which documents it).
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from services.downloader import service
from services.downloader.runtime import Runtime
from services.downloader.schemas import DownloadTicket
from services.shared.openapi import errors

router = APIRouter(prefix="/files", tags=["downloads"])

FileId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._~-]+$")]


class DownloadParams(BaseModel):
    """The optional query parameters of a download."""

    offset: int | None = Field(default=None, ge=0, description="first byte to read")
    length: int | None = Field(default=None, ge=1, description="bytes to read")
    redirect: bool = Field(default=False, description="answer 302 to the URL")


def _openapi_parameters() -> list[dict[str, Any]]:
    """The query parameters (from :class:`DownloadParams`) and the Range header, as OpenAPI."""
    properties = DownloadParams.model_json_schema()["properties"]
    params = [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": schema.pop("description"),
            "schema": schema,
        }
        for name, schema in properties.items()
    ]
    params.append(
        {
            "name": "Range",
            "in": "header",
            "required": False,
            "description": "a single byte range, e.g. 'bytes=0-1023' (instead of offset/length)",
            "schema": {"type": "string"},
        }
    )
    return params


NO_PARAMS = DownloadParams()
_DATETIME = TypeAdapter(datetime)


@lru_cache(maxsize=4)
def _json_datetime(value: datetime) -> str:
    """A datetime as the response model would write it (it changes once a day)."""
    text: str = _DATETIME.dump_python(value, mode="json")
    return text


def _params(request: Request) -> DownloadParams:
    if not request.scope["query_string"]:
        return NO_PARAMS
    try:
        return DownloadParams.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


@router.get(
    "/{file_id}/download",
    response_model=DownloadTicket,
    responses={
        302: {"description": "redirect=true: the download URL in Location"},
        **errors(
            _404="unknown file",
            _409="file not uploaded yet",
            _416="offset or range beyond the file",
            _503="no account has budget for it today (see Retry-After)",
        ),
    },
    openapi_extra={"parameters": _openapi_parameters()},
)
async def download(request: Request, file_id: FileId) -> Response:
    """Issue a download URL on the next account with budget (charged: the bytes requested)."""
    params = _params(request)
    rt: Runtime = request.app.state.runtime
    ticket = await service.issue_download(
        rt=rt,
        file_id=file_id,
        offset=params.offset,
        length=params.length,
        range_header=request.headers.get("range"),
    )
    if params.redirect:
        return RedirectResponse(
            ticket.url, status_code=302, headers={"X-Download-Id": str(ticket.id)}
        )
    body = {
        "id": str(ticket.id),
        "url": ticket.url,
        "file_id": ticket.file_id,
        "account_id": ticket.account_id,
        "offset": ticket.offset,
        "length": ticket.length,
        "charged_bytes": ticket.charged_bytes,
        "range": ticket.range,
        "day": ticket.day.isoformat(),
        "expires_at": _json_datetime(ticket.expires_at),
    }
    return Response(json.dumps(body, separators=(",", ":")).encode(), media_type="application/json")
