"""The operator's HTTP clients of the Uploader and the Downloader.

Every failure becomes one of two exceptions that say what to do: :class:`Unavailable` (the
service is down or overloaded: retry later) and :class:`Refused` (the service understood and
said no: fix the input). Handlers turn them into kopf's temporary errors or conditions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx

from fileserver_operator.builders.accounts import MANAGER_HEADER
from fileserver_operator.config import OperatorSettings


class Unavailable(Exception):
    """The service could not answer; the same request may succeed later."""


class Refused(Exception):
    """The service answered with a 4xx; ``status`` and the service's message are kept."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return detail if isinstance(detail, str) else str(detail)[:300]


MAX_IN_FLIGHT = 8
"""Requests one client has in flight: kopf starts a handler per new object at once, and a
thousand new DriveAccounts must queue here, not time out in the connection pool."""


class _Service:
    def __init__(
        self, base_url: str, token: str, timeout: float, listing_timeout: float | None = None
    ) -> None:
        self.listing_timeout = listing_timeout or timeout
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=timeout,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT),
        )
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def request(
        self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        """The JSON answer; None for a 404 when ``missing_ok``."""
        try:
            async with self.gate:  # the wait for a slot is not part of the request's timeout
                response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code >= 500 or response.status_code == 429:
            raise Unavailable(f"{method} {path}: HTTP {response.status_code} {_detail(response)}")
        if response.status_code >= 400:
            raise Refused(response.status_code, _detail(response))
        return response.json() if response.content else None

    async def pages(self, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Every item of a paginated listing (``items``/``total``/``offset``/``limit``)."""
        offset = 0
        while True:
            page = await self.request(
                "GET",
                path,
                params={**params, "offset": offset, "limit": 1000},
                timeout=self.listing_timeout,
            )
            for item in page["items"]:
                yield item
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    async def cursor_pages(
        self, path: str, params: dict[str, Any]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The pages of a keyset-paginated listing (``next`` → ``after``), fetched one ahead.

        The next page is requested while the caller works on this one: on FerretDB a page
        costs a scan of the collection, which then overlaps the caller's Kubernetes writes.
        """
        query = {**params, "limit": 1000, "count": "false"}
        timeout = self.listing_timeout
        ahead = asyncio.ensure_future(self.request("GET", path, params=query, timeout=timeout))
        try:
            while True:
                page = await ahead
                if page["next"] is not None:
                    query = {**query, "after": page["next"]}
                    ahead = asyncio.ensure_future(
                        self.request("GET", path, params=query, timeout=timeout)
                    )
                if page["items"]:
                    yield page["items"]
                if page["next"] is None:
                    return
        finally:
            ahead.cancel()

    async def metrics(self) -> str:
        """The Prometheus exposition; empty when it cannot be read (signals are optional)."""
        try:
            response = await self.http.get("/metrics")
        except httpx.HTTPError:
            return ""
        return response.text if response.status_code == 200 else ""

    async def close(self) -> None:
        await self.http.aclose()


class Uploader(_Service):
    """Accounts and files of the Uploader, as the operator uses them."""

    def __init__(self, settings: OperatorSettings) -> None:
        super().__init__(
            settings.uploader_url,
            settings.uploader_admin_token.get_secret_value(),
            settings.http_timeout_seconds,
            settings.listing_timeout_seconds,
        )
        self.http.headers[MANAGER_HEADER] = settings.manager

    async def account(self, account_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "GET", f"/accounts/{account_id}", missing_ok=True
        )
        return result

    async def account_by_email(self, email: str) -> dict[str, Any] | None:
        page = await self.request("GET", "/accounts", params={"email": email, "limit": 1})
        items: list[dict[str, Any]] = page["items"]
        return next((a for a in items if a["email"].lower() == email.lower()), None)

    async def accounts(self) -> list[dict[str, Any]]:
        return [a async for a in self.pages("/accounts", {})]

    async def create_account(self, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", "/accounts", json=payload)
        return result

    async def update_account(self, account_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.request(
            "PATCH", f"/accounts/{account_id}", json=payload
        )
        return result

    async def check_account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self.request("POST", f"/accounts/{account_id}:check")
        return result

    async def delete_account(self, account_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "DELETE", f"/accounts/{account_id}", missing_ok=True
        )
        return result

    def file_changes(self, since: datetime | None) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of the live files changed at or after ``since`` (None: all), oldest first."""
        params = {"sort": "updated_at"}
        if since is not None:
            params["updated_after"] = since.isoformat()
        return self.cursor_pages("/files", params)

    async def file(self, file_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "GET", f"/files/{file_id}", missing_ok=True
        )
        return result

    async def set_desired_replicas(
        self, file_id: str, desired: int | None
    ) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "PATCH", f"/files/{file_id}", json={"desired_replicas": desired}, missing_ok=True
        )
        return result

    async def delete_file(self, file_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "DELETE", f"/files/{file_id}", missing_ok=True
        )
        return result


class Stats(_Service):
    """Only Stats' metrics (its backlog)."""

    def __init__(self, settings: OperatorSettings) -> None:
        super().__init__(
            settings.stats_url or "http://stats.invalid", "", settings.http_timeout_seconds
        )


class Downloader(_Service):
    """The Downloader's precomputed account figures."""

    def __init__(self, settings: OperatorSettings) -> None:
        super().__init__(
            settings.downloader_url,
            settings.downloader_admin_token.get_secret_value(),
            settings.http_timeout_seconds,
        )

    async def demand_today(self) -> dict[str, int]:
        """Bytes handed out today per file, for the files with any (busiest first)."""
        demand: dict[str, int] = {}
        async for item in self.pages("/reports/files", {"sort": "-bytes_today"}):
            if not item["bytes_today"]:
                break
            demand[str(item["id"])] = int(item["bytes_today"])
        return demand

    async def account_figures(self, account_id: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.request(
            "GET", f"/accounts/{account_id}/stats", missing_ok=True
        )
        return result
