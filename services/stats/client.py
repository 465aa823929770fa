"""Writing increments back to the Downloader (``POST /internal/stats``)."""

from __future__ import annotations

import httpx

from services.shared.stats import StatsBatch, StatsBatchResult


class DownloaderUnavailable(Exception):
    """The Downloader did not take the batch this time (network error, 5xx); retry later."""


class DownloaderClient:
    """A small HTTP client for the Downloader's internal API."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    async def post_stats(self, batch: StatsBatch) -> StatsBatchResult:
        """Deliver one batch; raise :class:`DownloaderUnavailable` on a retryable failure."""
        try:
            response = await self._http.post(
                "/internal/stats",
                content=batch.model_dump_json(),
                headers={"Content-Type": "application/json"},
            )
        except httpx.TransportError as exc:
            raise DownloaderUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise DownloaderUnavailable(f"{response.status_code}: {response.text[:200]}")
        response.raise_for_status()  # 4xx: a bug (bad token, bad body), not worth retrying
        return StatsBatchResult.model_validate_json(response.content)

    async def aclose(self) -> None:
        await self._http.aclose()
