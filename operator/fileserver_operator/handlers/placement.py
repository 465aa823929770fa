"""Demand-driven placement: every ``placement_interval_seconds``, each FileReplica with
``demandDriven: true`` gets its replica count from the file's demand, and the Uploader adds or
removes replicas to match (within every account's storage).

It runs as a timer on the Uploader's Deployment, as the catalog sync does, so kopf's peering
pauses it with everything else. Its decisions reach the status through the catalog sync
(``Placed`` condition), the only writer of FileReplica status.
"""

from __future__ import annotations

from typing import Any

import kopf

from fileserver_operator.builders.placement import Decision, daily_rate, decide, is_demand_driven
from fileserver_operator.clients import Refused, Unavailable
from fileserver_operator.config import get_settings
from fileserver_operator.handlers.catalog import is_uploader
from fileserver_operator.metrics import RECONCILES
from fileserver_operator.state import State
from services.shared.days import utcnow

SETTINGS = get_settings()


@kopf.timer(
    "apps", "v1", "deployments", interval=SETTINGS.placement_interval_seconds, when=is_uploader
)
async def demand_placement(
    memo: kopf.Memo,
    logger: kopf.Logger,
    filereplicas_by_file: kopf.Index[str, dict[str, Any]],
    driveaccount_pool: kopf.Index[str, dict[str, Any]],
    **_: Any,
) -> None:
    """Apply the demand-driven count of every FileReplica that asks for one."""
    state: State = memo.state
    entries = [
        (file_id, entry)
        for file_id, stored in filereplicas_by_file.items()
        for entry in stored
        if not entry["deleting"] and is_demand_driven(entry["spec"].get("placement"))
    ]
    for gone in state.placements.keys() - {file_id for file_id, _ in entries}:
        del state.placements[gone]
    if not entries:
        return
    ready = [a for a in driveaccount_pool.get("pool", []) if a["ready"] and a["uploader_id"]]
    budget = sum(a["budget"] for a in ready) // len(ready) if ready else 0
    try:
        demand = await state.downloader.demand_today()
    except Unavailable as exc:
        RECONCILES.labels("Placement", "retry").inc()
        raise kopf.TemporaryError(f"the Downloader is unavailable: {exc}", delay=10) from None
    now = utcnow()
    changed = 0
    for file_id, entry in entries:
        decision = decide(
            entry["spec"].get("placement"),
            demand=daily_rate(demand.get(file_id, 0), now, SETTINGS.rollover_utc),
            pool=len(ready),
            account_budget=budget,
            default_floor=SETTINGS.placement_floor,
            replica_cap_bytes=SETTINGS.replica_daily_cap_bytes,
        )
        previous = state.placements.get(file_id)
        state.placements[file_id] = decision
        if previous != decision:
            state.placements_changed.add(file_id)
        if decision.replicas is None:
            if previous is None or previous.reason != decision.reason:
                logger.warning("file %s: %s", file_id, decision.message)
            continue
        if entry["status"].get("desiredReplicas") == decision.replicas and previous is not None:
            continue
        try:
            await state.uploader.set_desired_replicas(file_id, decision.replicas)
        except Unavailable as exc:
            RECONCILES.labels("Placement", "retry").inc()
            raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None
        except Refused as exc:
            state.placements[file_id] = Decision(None, "Refused", exc.message)
            logger.warning(
                "file %s: the Uploader refused %d replicas: %s",
                file_id,
                decision.replicas,
                exc.message,
            )
            continue
        changed += 1
    RECONCILES.labels("Placement", "ok").inc()
    if changed:
        logger.info("demand placement: %d of %d files changed count", changed, len(entries))
