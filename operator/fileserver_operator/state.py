"""What the handlers share: settings, the service and Kubernetes clients, catalog facts.

One :class:`State` is made at startup and travels in kopf's ``memo``; kopf copies the memo per
resource shallowly, so every handler sees this same object.
"""

from __future__ import annotations

from dataclasses import dataclass

from fileserver_operator.clients import Downloader, Stats, Uploader
from fileserver_operator.config import OperatorSettings
from fileserver_operator.kube import Kube

DEFAULT_MEAN_DOWNLOAD_BYTES = 100 * 10**6
"""What a download is assumed to weigh before the catalog has any uploaded file."""


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
