"""Drive v3 ``files`` and ``permissions``: get (metadata or ``alt=media``), list, copy, delete,
and the anyone-with-the-link reader permission download URLs rely on."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from services.drive_emulator import errors, fields, query
from services.drive_emulator.deps import AccountDep, CallerDep, RuntimeDep
from services.drive_emulator.faults import DropConnection
from services.drive_emulator.service import (
    copy_file,
    delete_file,
    file_resource,
    owner_of,
    root_id,
    serve_file,
    visible_file,
)

router = APIRouter(prefix="/drive/v3", tags=["files"])

COPY_KEYS = ("name", "parents", "mimeType")
PERMISSION = {
    "kind": "drive#permission",
    "id": "anyoneWithLink",
    "type": "anyone",
    "role": "reader",
    "allowFileDiscovery": False,
}


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is an empty object)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise errors.bad_request("Invalid JSON payload received.") from None
    if not isinstance(body, dict):
        raise errors.bad_request("Invalid JSON payload received.")
    return body


def _page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error):
        raise errors.bad_request("Invalid Value", location="pageToken") from None


@router.get("/files")
async def list_files(
    request: Request,
    runtime: RuntimeDep,
    account: AccountDep,
    q: str | None = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> JSONResponse:
    """files.list: the caller's files matching ``q``, a page at a time."""
    matches = query.parse(q, root_id=root_id(account))
    records = [record for record in await runtime.store.files(account.id) if matches(record)]
    offset = _page_offset(page_token)
    root_url = runtime.root_url(request)
    body: dict[str, Any] = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [
            file_resource(record, account, viewer=account, root_url=root_url)
            for record in records[offset : offset + page_size]
        ],
    }
    if offset + page_size < len(records):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode()
    return JSONResponse(fields.select(body, fields.parse(fields_ or fields.LIST_DEFAULT)))


@router.get("/files/{file_id}", response_model=None)
async def get_file(
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    file_id: str,
    alt: str = "json",
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> Response:
    """files.get: metadata, or with ``alt=media`` the bytes (``Range`` gives 206)."""
    record = await visible_file(runtime, file_id, caller)
    owner = await owner_of(runtime, record)
    drop = await runtime.guard(request, caller or owner)
    if alt == "media":
        return await serve_file(runtime, request, record, owner, drop_after=drop)
    if drop is not None:
        raise DropConnection
    resource = file_resource(record, owner, viewer=caller, root_url=runtime.root_url(request))
    return JSONResponse(fields.select(resource, fields.parse(fields_ or fields.FILE_DEFAULT)))


@router.post("/files/{file_id}/copy")
async def copy(
    request: Request,
    runtime: RuntimeDep,
    account: AccountDep,
    file_id: str,
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> JSONResponse:
    """files.copy: a new file of the caller with the same bytes, made on the server."""
    source = await visible_file(runtime, file_id, account)
    body = await json_body(request)
    metadata = {key: body[key] for key in COPY_KEYS if key in body}
    record = await copy_file(runtime, account=account, source=source, metadata=metadata)
    resource = file_resource(record, account, viewer=account, root_url=runtime.root_url(request))
    return JSONResponse(fields.select(resource, fields.parse(fields_ or fields.FILE_DEFAULT)))


@router.delete("/files/{file_id}", status_code=204)
async def delete(runtime: RuntimeDep, account: AccountDep, file_id: str) -> Response:
    """files.delete: removes the file for good (owner only)."""
    record = await visible_file(runtime, file_id, account)
    await delete_file(runtime, account=account, record=record)
    return Response(status_code=204)


@router.post("/files/{file_id}/permissions")
async def create_permission(
    request: Request,
    runtime: RuntimeDep,
    account: AccountDep,
    file_id: str,
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> JSONResponse:
    """permissions.create: only ``type=anyone, role=reader`` (anyone with the link) is emulated."""
    record = await visible_file(runtime, file_id, account)
    if record.account_id != account.id:
        raise errors.insufficient_permissions(file_id)
    body = await json_body(request)
    if body.get("type") != "anyone" or body.get("role") != "reader":
        raise errors.bad_request(
            "The emulator only grants type=anyone role=reader", location="permission.type"
        )
    await runtime.store.share(file_id)
    return JSONResponse(fields.select(PERMISSION, fields.parse(fields_ or "kind,id,type,role")))


@router.get("/about")
async def about(
    runtime: RuntimeDep,
    account: AccountDep,
    fields_: Annotated[str | None, Query(alias="fields")] = None,
) -> JSONResponse:
    """about.get: the user and the storage quota (Drive requires ``fields`` here)."""
    if not fields_:
        raise errors.required_parameter("fields")
    limit = runtime.quotas.limits(account).storage_bytes
    stored = await runtime.store.stored_bytes(account.id)
    quota = {"usage": str(stored), "usageInDrive": str(stored), "usageInDriveTrash": "0"}
    if limit:
        quota["limit"] = str(limit)
    resource = {
        "kind": "drive#about",
        "user": {
            "kind": "drive#user",
            "displayName": account.display_name,
            "emailAddress": account.email,
            "me": True,
            "permissionId": account.id,
        },
        "storageQuota": quota,
    }
    return JSONResponse(fields.select(resource, fields.parse(fields_)))
