"""Precomputed statistics: one file, one account, and the reports of all of them."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from services.downloader import repository, service
from services.downloader.deps import RuntimeDep, SessionDep, TodayDep, require_admin
from services.downloader.schemas import (
    AccountFigures,
    CatalogKind,
    FileFigures,
    Report,
    ReportFormat,
)
from services.shared.openapi import errors

router = APIRouter(tags=["reports"], dependencies=[Depends(require_admin)], responses=errors(401))

FILE_SORT = "|".join(rf"-?{c}" for c in repository.FILE_SORTS)
ACCOUNT_SORT = "|".join(rf"-?{c}" for c in repository.ACCOUNT_SORTS)
Limit = Annotated[int | None, Query(ge=1, le=1000, description="default 100 (CSV: all)")]
MAX_OFFSET = 10**9
"""Far past any catalog; larger offsets overflowed the databases' 64-bit integers (a 500)."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}
Format = Annotated[ReportFormat, Query(alias="format")]


@router.get(
    "/files/{file_id}/stats", response_model=FileFigures, responses=errors(_404="unknown file")
)
async def file_stats(session: SessionDep, today: TodayDep, file_id: str) -> FileFigures:
    """Downloads, MB today and MB in total of one file."""
    return await service.file_figures(session=session, file_id=file_id, day=today)


@router.get(
    "/accounts/{account_id}/stats",
    response_model=AccountFigures,
    responses=errors(_404="unknown account"),
)
async def account_stats(session: SessionDep, today: TodayDep, account_id: str) -> AccountFigures:
    """Downloads, MB today, MB in total and budget left today of one account."""
    return await service.account_figures(session=session, account_id=account_id, day=today)


@router.get("/reports/files", response_model=Report[FileFigures], responses=CSV)
async def files_report(
    rt: RuntimeDep,
    session: SessionDep,
    today: TodayDep,
    sort: Annotated[str, Query(pattern=f"^({FILE_SORT})$")] = "-bytes_total",
    limit: Limit = None,
    offset: Offset = 0,
    fmt: Format = ReportFormat.JSON,
) -> Any:
    """Every file's figures, paginated and sorted (``?format=csv`` for a spreadsheet)."""
    return await _report(
        rt, session, CatalogKind.FILE, FileFigures, today, sort, limit, offset, fmt
    )


@router.get("/reports/accounts", response_model=Report[AccountFigures], responses=CSV)
async def accounts_report(
    rt: RuntimeDep,
    session: SessionDep,
    today: TodayDep,
    sort: Annotated[str, Query(pattern=f"^({ACCOUNT_SORT})$")] = "id",
    limit: Limit = None,
    offset: Offset = 0,
    fmt: Format = ReportFormat.JSON,
) -> Any:
    """Every account's figures, paginated and sorted (``?format=csv`` for a spreadsheet)."""
    return await _report(
        rt, session, CatalogKind.ACCOUNT, AccountFigures, today, sort, limit, offset, fmt
    )


async def _report(
    rt: RuntimeDep,
    session: SessionDep,
    kind: CatalogKind,
    schema: type[BaseModel],
    today: Any,
    sort: str,
    limit: int | None,
    offset: int,
    fmt: ReportFormat,
) -> Any:
    if fmt == ReportFormat.JSON:
        size = limit or 100
        rows, total = await service.report_rows(
            session=session, kind=kind, day=today, sort=sort, limit=size, offset=offset
        )
        return {
            "day": today,
            "total": total,
            "limit": size,
            "offset": offset,
            "sort": sort,
            "items": rows,
        }
    columns = list(schema.model_fields)

    async def lines() -> AsyncIterator[str]:
        # Pages of 1000 rows, each in its own session: a large report never sits in memory.
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        start, left = offset, limit
        while left is None or left > 0:
            page = 1000 if left is None else min(left, 1000)
            async with rt.sessions() as page_session:
                rows, _ = await service.report_rows(
                    session=page_session, kind=kind, day=today, sort=sort, limit=page, offset=start
                )
            writer.writerows(rows)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if len(rows) < page:
                break
            start += page
            if left is not None:
                left -= page

    filename = f"{kind.value}s-{today}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
