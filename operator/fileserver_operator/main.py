"""Entry module for ``kopf run -m fileserver_operator.main``: settings, clients, handlers.

Importing it registers every handler (one module per resource) with kopf.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import kopf
from prometheus_client import start_http_server

from fileserver_operator.clients import Downloader, Stats, Uploader
from fileserver_operator.config import FINALIZER, get_settings
from fileserver_operator.handlers import catalog, driveaccount, filereplica, placement, scaling
from fileserver_operator.kube import Kube, connect
from fileserver_operator.state import State

HANDLERS = (catalog, driveaccount, filereplica, placement, scaling)


def _without_finalizer(*timers: Callable[..., Any]) -> None:
    """Let these timers run without a finalizer on the object they watch.

    kopf gives every timer's object a finalizer, so that it can stop the timer before the
    object goes. Our timers on the service Deployments hold nothing to clean up, and a
    finalizer there would leave ``helm uninstall`` (which stops the operator at the same time)
    with Deployments stuck in Terminating. kopf has no public switch for this: its handler
    records are replaced in the default registry (checked by tests/operator: no finalizer on the
    Deployments).
    """
    spawning = kopf.get_default_registry()._spawning
    spawning._handlers = [
        dataclasses.replace(h, requires_finalizer=False) if h.fn in timers else h
        for h in spawning._handlers
    ]


_without_finalizer(catalog.catalog_sync, placement.demand_placement, scaling.deployment_scale)


@kopf.on.startup()
async def operator_startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Apply kopf's settings and build the clients every handler shares."""
    s = get_settings()
    # Without timeouts a silently dropped watch stream would stall the operator forever.
    settings.watching.server_timeout = s.watch_server_timeout_seconds
    settings.watching.client_timeout = s.watch_client_timeout_seconds
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # The chart installs the CRDs before the operator: discovering them once at start-up needs
    # no cluster-wide list of namespaces or CRDs (least privilege, and no start-up retries).
    settings.scanning.disabled = True
    # Replicas need distinct priorities, or kopf freezes them all on a tie.
    settings.peering.priority = s.priority if s.priority is not None else random.randint(1, 2**30)  # noqa: S311
    settings.peering.lifetime = s.peering_lifetime_seconds
    # Handler log lines stay logs; meaningful changes are posted as Events explicitly.
    settings.posting.level = logging.WARNING
    settings.persistence.finalizer = FINALIZER
    memo.state = State(
        settings=s,
        uploader=Uploader(s),
        downloader=Downloader(s),
        stats=Stats(s),
        kube=Kube(await connect()),
        diffbase=settings.persistence.diffbase_storage,
    )
    if s.metrics_port:
        start_http_server(s.metrics_port)


@kopf.on.cleanup()
async def operator_cleanup(memo: kopf.Memo, **_: Any) -> None:
    state: State | None = getattr(memo, "state", None)
    if state is not None:
        await state.close()


@kopf.on.probe(id="catalogSyncAge")
def catalog_sync_age(memo: kopf.Memo, **_: Any) -> float | None:
    """Seconds since the last catalog sync (None before the first, or on an idle peer)."""
    state: State | None = getattr(memo, "state", None)
    if state is None or state.last_catalog_sync is None:
        return None
    return round(time.time() - state.last_catalog_sync, 1)
