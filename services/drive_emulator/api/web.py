"""Drive's web download links: ``/uc?id=…&export=download`` and usercontent's ``/download``.

Both stream a file shared with anyone and charge its owner's budget, like the API. Above the
scan threshold, ``uc`` (and ``download`` without ``confirm``) answer with Drive's "can't scan
this file for viruses" page instead of the bytes; its form leads to ``download?confirm=t``.
Errors are HTML pages, as a browser would get them.
"""

from __future__ import annotations

import html
import secrets
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse

from services.drive_emulator import metrics
from services.drive_emulator.deps import RuntimeDep
from services.drive_emulator.errors import DriveApiError
from services.drive_emulator.runtime import Runtime
from services.drive_emulator.service import owner_of, serve_file

router = APIRouter(tags=["web"])

NOT_FOUND_PAGE = (
    "<html><body><p>Sorry, the file you have requested does not exist.</p></body></html>"
)
QUOTA_PAGE = (
    "<html><head><title>Google Drive - Quota exceeded</title></head><body><p>Sorry, you can't "
    "view or download this file at this time.</p><p>Too many users have viewed or downloaded "
    "this file recently. Please try accessing the file again later. If the file you are trying "
    "to access is particularly large or is shared with many people, it may take up to 24 hours "
    "to be able to view or download the file.</p></body></html>"
)


def virus_scan_page(root_url: str, file_id: str, name: str, size: int) -> str:
    """Drive's warning page for files too large to scan, with its confirm form."""
    uuid = secrets.token_hex(16)
    action = f"{root_url}download"
    inputs = "".join(
        f'<input type="hidden" name="{key}" value="{html.escape(value)}">'
        for key, value in {
            "id": file_id,
            "export": "download",
            "confirm": "t",
            "uuid": uuid,
        }.items()
    )
    return (
        "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
        f'<body><div class="uc-warning-caption">Google Drive can\'t scan this file for viruses.'
        f'</div><p><a href="{root_url}open?{urlencode({"id": file_id})}">{html.escape(name)}'
        f"</a> ({size / 1e6:.0f}M) is too large for Google to scan for viruses. Would you still "
        "like to download this file?</p>"
        f'<form id="download-form" action="{action}" method="get">'
        f'<input type="submit" id="uc-download-link" value="Download anyway">{inputs}</form>'
        "</body></html>"
    )


async def _download(
    request: Request, runtime: Runtime, file_id: str, *, confirmed: bool
) -> Response:
    record = await runtime.store.file(file_id)
    if record is None or not record.anyone_reader:
        metrics.ERRORS.labels("notFound").inc()
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    if record.size > runtime.settings.uc_scan_threshold_bytes and not confirmed:
        root_url = runtime.root_url(request)
        return HTMLResponse(virus_scan_page(root_url, record.id, record.name, record.size))
    owner = await owner_of(runtime, record)
    safe_name = record.name.replace('"', "")
    disposition = f'attachment; filename="{safe_name}"'
    try:
        drop = await runtime.guard(request, owner)
        return await serve_file(
            runtime,
            request,
            record,
            owner,
            drop_after=drop,
            headers={"Content-Disposition": disposition},
        )
    except DriveApiError as exc:
        metrics.ERRORS.labels(exc.reason).inc()
        page = (
            QUOTA_PAGE
            if exc.reason == "downloadQuotaExceeded"
            else (f"<html><body><p>{html.escape(exc.message)}</p></body></html>")
        )
        return HTMLResponse(page, status_code=exc.status, headers=exc.headers)


@router.get("/uc", response_model=None)
async def uc(
    request: Request,
    runtime: RuntimeDep,
    file_id: Annotated[str, Query(alias="id")],
    confirm: str | None = None,
) -> Response:
    """The classic download link; large files get the virus-scan page unless confirmed."""
    return await _download(request, runtime, file_id, confirmed=bool(confirm))


@router.get("/download", response_model=None)
async def usercontent_download(
    request: Request,
    runtime: RuntimeDep,
    file_id: Annotated[str, Query(alias="id")],
    confirm: str | None = None,
) -> Response:
    """drive.usercontent.google.com's link: with ``confirm=t`` it streams any size."""
    return await _download(request, runtime, file_id, confirmed=bool(confirm))
