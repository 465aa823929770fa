"""FileReplica: push placement changes to the Uploader; deleting one deletes the file."""

from __future__ import annotations

from typing import Any

import kopf

from apis.common import GROUP, VERSION
from apis.filereplica import FileReplica
from fileserver_operator.builders.placement import is_demand_driven
from fileserver_operator.builders.replicas import desired_replicas
from fileserver_operator.clients import Refused, Unavailable
from fileserver_operator.config import get_settings
from fileserver_operator.metrics import RECONCILES
from fileserver_operator.state import State

PLURAL = FileReplica.PLURAL
SETTINGS = get_settings()


@kopf.index(GROUP, VERSION, PLURAL)
def filereplicas_by_file(
    name: str, namespace: str, spec: kopf.Spec, status: kopf.Status, meta: kopf.Meta, **_: Any
) -> dict[str, dict[str, Any]]:
    """The resources as the catalog sync compares them with the Uploader's files."""
    return {
        str(spec.get("fileId", "")): {
            "name": name,
            "namespace": namespace,
            "spec": dict(spec),
            "status": dict(status),
            "generation": int(meta.get("generation", 0)),
            "deleting": meta.get("deletionTimestamp") is not None,
        }
    }


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.placement")
async def filereplica_placement(
    spec: kopf.Spec, memo: kopf.Memo, body: kopf.Body, logger: kopf.Logger, **_: Any
) -> None:
    """Someone changed the placement: the Uploader adds or removes replicas to match."""
    state: State = memo.state
    if is_demand_driven(spec.get("placement")):
        state.placements.pop(str(spec["fileId"]), None)  # decided afresh on the next round
        message = (
            "demand-driven: the count follows the file's demand, "
            f"set within {SETTINGS.placement_interval_seconds:g} s"
        )
        kopf.event(body, type="Normal", reason="PlacementChanged", message=message)
        return
    wanted = desired_replicas(spec.get("placement"))
    try:
        file = await state.uploader.set_desired_replicas(str(spec["fileId"]), wanted)
    except Unavailable as exc:
        RECONCILES.labels("FileReplica", "retry").inc()
        raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None
    except Refused as exc:
        if exc.status == 409:  # the file changed meanwhile or is being deleted: try again
            raise kopf.TemporaryError(exc.message, delay=5) from None
        RECONCILES.labels("FileReplica", "error").inc()
        kopf.event(body, type="Warning", reason="PlacementRefused", message=exc.message)
        raise kopf.PermanentError(f"the Uploader refused the placement: {exc.message}") from None
    RECONCILES.labels("FileReplica", "ok").inc()
    if file is None:
        logger.info("the file is gone; the catalog sync removes this resource")
        return
    target = "every account" if wanted is None else f"{wanted} accounts"
    kopf.event(body, type="Normal", reason="PlacementChanged", message=f"replicas on {target}")


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def filereplica_delete(spec: kopf.Spec, memo: kopf.Memo, **_: Any) -> None:
    """Delete the file everywhere; the finalizer holds until the Uploader has forgotten it."""
    state: State = memo.state
    file_id = str(spec.get("fileId", ""))
    try:
        file = await state.uploader.file(file_id)
        if file is None:
            return
        if file.get("status") != "deleting":
            await state.uploader.delete_file(file_id)
    except Unavailable as exc:
        raise kopf.TemporaryError(f"the Uploader is unavailable: {exc}", delay=10) from None
    except Refused as exc:
        raise kopf.TemporaryError(f"the Uploader refused: {exc}", delay=30) from None
    raise kopf.TemporaryError(
        "removing the file's replicas from Drive", delay=SETTINGS.drain_poll_seconds
    )
