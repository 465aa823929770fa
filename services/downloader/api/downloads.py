"""The public download endpoint: what every user request hits.

It is the hottest path of the system. The request every client sends — ``GET
/files/{file_id}/download`` with no query string — is answered by :class:`DownloadFastPath`, an
ASGI layer in front of FastAPI's router that runs the same service call and writes the same
answer; everything else (a query string, an id the route's pattern refuses) goes on to the
FastAPI route below, which validates, documents the endpoint in OpenAPI and answers errors the
usual way. The route itself also does less than an ordinary one: the runtime comes from the app
state instead of a dependency, the optional query parameters are validated with one pydantic
model, and the answer is serialised once, straight to bytes, instead of through the response
model (which documents it).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from services.downloader import service
from services.downloader.errors import DownloaderError, error_response
from services.downloader.runtime import Runtime
from services.downloader.schemas import DownloadTicket
from services.shared.openapi import errors

router = APIRouter(prefix="/files", tags=["downloads"])

FILE_ID_PATTERN = r"^[A-Za-z0-9._~-]+$"
FILE_ID_MAX = 64
FileId = Annotated[str, Path(min_length=1, max_length=FILE_ID_MAX, pattern=FILE_ID_PATTERN)]


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
    return Response(ticket_json(ticket), media_type="application/json")


def ticket_json(ticket: service.Ticket) -> bytes:
    """The answer's body: what :class:`DownloadTicket` would serialise, without validation.

    Everything but the id repeats from one request to the next (same replica, same day, mostly
    the whole file), so the rest is serialised once and kept: half the cost of ``json.dumps``.
    """
    head, tail = _ticket_around_id(
        ticket.url,
        ticket.file_id,
        ticket.account_id,
        ticket.offset,
        ticket.length,
        ticket.charged_bytes,
        ticket.range,
        ticket.day,
        ticket.expires_at,
    )
    return head + str(ticket.id).encode() + tail


@lru_cache(maxsize=4096)
def _ticket_around_id(
    url: str,
    file_id: str,
    account_id: str,
    offset: int,
    length: int,
    charged_bytes: int,
    range_header: str | None,
    day: date,
    expires_at: datetime,
) -> tuple[bytes, bytes]:
    """The body before and after the id (a UUID: nothing in it to escape)."""
    body = {
        "id": "\x00",
        "url": url,
        "file_id": file_id,
        "account_id": account_id,
        "offset": offset,
        "length": length,
        "charged_bytes": charged_bytes,
        "range": range_header,
        "day": day.isoformat(),
        "expires_at": _json_datetime(expires_at),
    }
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    head, tail = text.encode().split(b"\\u0000", 1)
    return head, tail


PREFIX, SUFFIX = "/files/", "/download"
ROUTE_PATH = PREFIX + "{file_id}" + SUFFIX
_FILE_ID = re.compile(FILE_ID_PATTERN)
_JSON = (b"content-type", b"application/json")


class DownloadFastPath:
    """Answers ``GET /files/{file_id}/download`` without a query string before FastAPI routes it.

    FastAPI's router walks the included routers, builds a ``Request``, solves the route's
    dependencies and wraps the endpoint's response; for this request that cost about as much
    CPU as the Downloader's own work (measured; docs/performance.md). Only requests the route
    would accept as they are come here — the same id pattern and length, no query parameters —
    and they get the route's answer: the same service call, body and domain errors. The route's
    template is put in the scope, so the metrics middleware labels them as the route's.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = next(
            r for r in router.routes if isinstance(r, APIRoute) and r.path == ROUTE_PATH
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            path: str = scope["path"]
            if path.startswith(PREFIX) and path.endswith(SUFFIX) and not scope.get("root_path"):
                file_id = path[len(PREFIX) : -len(SUFFIX)]
                if len(file_id) <= FILE_ID_MAX and _FILE_ID.fullmatch(file_id):
                    await self._download(scope, receive, send, file_id)
                    return
        await self.app(scope, receive, send)

    async def _download(self, scope: Scope, receive: Receive, send: Send, file_id: str) -> None:
        scope["route"] = self.route
        range_header = None
        for name, value in scope["headers"]:
            if name == b"range":
                range_header = value.decode("latin-1")
                break
        try:
            ticket = await service.issue_download(
                rt=scope["app"].state.runtime,
                file_id=file_id,
                offset=None,
                length=None,
                range_header=range_header,
            )
        except DownloaderError as exc:
            await error_response(exc)(scope, receive, send)
            return
        body = ticket_json(ticket)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), _JSON],
            }
        )
        await send({"type": "http.response.body", "body": body})
