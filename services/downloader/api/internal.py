"""Service-to-service endpoints: catalog events from the Uploader, increments from Stats."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.downloader import service
from services.downloader.deps import RuntimeDep, SessionDep, require_internal
from services.downloader.schemas import CatalogKind, CatalogPage
from services.shared.events import EventBatch, EventBatchResult
from services.shared.openapi import errors
from services.shared.stats import StatsBatch, StatsBatchResult

router = APIRouter(
    prefix="/internal",
    tags=["internal"],
    dependencies=[Depends(require_internal)],
    responses=errors(401),
)


# 400: a body that is not text (FastAPI's own answer: "There was an error parsing the body").
UNPARSABLE = errors(_400="the body is not UTF-8 JSON")


@router.post("/events", response_model=EventBatchResult, responses=UNPARSABLE)
async def post_events(rt: RuntimeDep, batch: EventBatch) -> EventBatchResult:
    """Apply catalog events (stale or duplicate ones are acknowledged and ignored)."""
    return await service.apply_events(rt=rt, batch=batch)


@router.post("/stats", response_model=StatsBatchResult, responses=UNPARSABLE)
async def post_stats(rt: RuntimeDep, session: SessionDep, batch: StatsBatch) -> StatsBatchResult:
    """Apply one batch of statistics increments (once per batch id)."""
    return await service.apply_stats(session=session, batch=batch, now=rt.clock())


@router.get("/catalog", response_model=CatalogPage)
async def get_catalog(
    session: SessionDep,
    kind: CatalogKind,
    after: Annotated[str, Query(max_length=64, description="continue after this id")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> CatalogPage:
    """The catalog as stored here, with sequence numbers (for the Uploader's reconciliation)."""
    return await service.catalog_page(session=session, kind=kind, after=after, limit=limit)
