"""What the handlers share: settings, the service and Kubernetes clients, catalog facts.

One :class:`State` is made at startup and travels in kopf's ``memo``; kopf copies the memo per
resource shallowly, so every handler sees this same object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import kopf

from fileserver_operator.builders.placement import Decision
from fileserver_operator.clients import Downloader, Stats, Uploader
from fileserver_operator.config import OperatorSettings
from fileserver_operator.kube import Kube

DEFAULT_MEAN_DOWNLOAD_BYTES = 100 * 10**6
"""What a download is assumed to weigh before the catalog has any uploaded file."""


@dataclass
class CatalogFeed:
    """How far the catalog sync has followed the Uploader's change feed."""

    watermark: datetime | None = None
    """``updated_at`` of the last file handled; None until a full listing has completed."""
    pool: tuple[tuple[str, str, bool], ...] | None = None
    """The DriveAccount pool (Uploader id, name, ready) the last full listing was made for."""
    listed_at: float = 0.0
    """``time.monotonic()`` of the last complete full listing."""
    eligible_accounts: int = 0
    """How many Uploader accounts "every account" meant at the last full listing."""
    verified_after: str = ""
    """The last file id an incremental sync looked up one by one (a rotation through all)."""


@dataclass
class State:
    settings: OperatorSettings
    uploader: Uploader
    downloader: Downloader
    stats: Stats
    kube: Kube
    catalog_mean_bytes: float | None = None
    """Mean size of the uploaded files, from the last catalog sync."""
    last_catalog_sync: float | None = None
    catalog: CatalogFeed = field(default_factory=CatalogFeed)
    diffbase: kopf.DiffBaseStorage | None = None
    """kopf's record of what it last handled, so new FileReplicas can carry it from birth."""
    placements: dict[str, Decision] = field(default_factory=dict)
    """The last demand-driven decision per file id, shown by the catalog sync as the status's
    ``Placed`` condition (the sync stays the only writer of FileReplica status)."""
    placements_changed: set[str] = field(default_factory=set)
    """Files whose decision changed since the last catalog sync: it writes their status even
    when the file itself did not change."""

    @property
    def mean_download_bytes(self) -> float:
        return float(
            self.settings.mean_download_bytes
            or self.catalog_mean_bytes
            or DEFAULT_MEAN_DOWNLOAD_BYTES
        )

    async def close(self) -> None:
        await self.uploader.close()
        await self.downloader.close()
        await self.stats.close()
        await self.kube.close()
