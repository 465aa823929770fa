"""The download endpoint: rotation, charges for ranges, refusals and bad inputs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from services.downloader.api.downloads import DownloadFastPath
from services.downloader.config import Settings
from services.downloader.schemas import DownloadTicket
from services.shared.events import FileStatus
from tests.utils.downloader import ADMIN, MB, FakeClock, account, file, live_downloader

pytestmark = pytest.mark.integration


async def test_urls_rotate_sequentially_over_the_accounts_holding_the_file(
    any_db_settings: Settings,
) -> None:
    async with live_downloader(any_db_settings) as dl:
        await dl.send(*(account(f"a{n}", 100 * MB) for n in range(4)))
        await dl.send(file("f", 2 * MB, ["a0", "a1", "a2"]))
        got = []
        for _ in range(9):
            response = await dl.client.get("/files/f/download")
            assert response.status_code == 200, response.text
            ticket = response.json()
            got.append(ticket["account_id"])
            assert ticket["charged_bytes"] == 2 * MB
            assert ticket["range"] is None
            assert f"f-on-{ticket['account_id']}" in ticket["url"]
        assert got == ["a0", "a1", "a2"] * 3


async def test_redirect_form_answers_302_to_the_url(sqlite_settings: Settings) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(account("a", 100 * MB), file("f", MB, ["a"]))
        response = await dl.client.get("/files/f/download", params={"redirect": "true"})
        assert response.status_code == 302
        assert "f-on-a" in response.headers["location"]
        assert response.headers["x-download-id"]


@pytest.mark.parametrize(
    ("params", "headers", "charged", "range_header"),
    [
        ({"offset": 3 * MB}, {}, 7 * MB, f"bytes={3 * MB}-{10 * MB - 1}"),
        ({"offset": 0, "length": MB}, {}, MB, f"bytes=0-{MB - 1}"),
        ({"offset": 9 * MB, "length": 5 * MB}, {}, MB, f"bytes={9 * MB}-{10 * MB - 1}"),
        ({}, {"Range": "bytes=100-199"}, 100, "bytes=100-199"),
        ({}, {"Range": "bytes=-500"}, 500, f"bytes={10 * MB - 500}-{10 * MB - 1}"),
        ({}, {"Range": f"bytes={5 * MB}-"}, 5 * MB, f"bytes={5 * MB}-{10 * MB - 1}"),
        ({}, {"Range": "bytes=0-"}, 10 * MB, None),
    ],
)
async def test_the_charge_is_the_bytes_requested(
    sqlite_settings: Settings, params: dict, headers: dict, charged: int, range_header: str | None
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(account("a", 100 * MB), file("f", 10 * MB, ["a"]))
        response = await dl.client.get("/files/f/download", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["charged_bytes"] == charged
        assert response.json()["range"] == range_header
        figures = await dl.client.get("/accounts/a/stats", headers=ADMIN)
        assert figures.json()["issued_today"] == charged


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("/files/nope/download", {}, {}, 404),
        ("/files/bad%20id/download", {}, {}, 422),
        ("/files/" + "x" * 65 + "/download", {}, {}, 422),
        ("/files/f/download", {"offset": -1}, {}, 422),
        ("/files/f/download", {"offset": "x"}, {}, 422),
        ("/files/f/download", {"length": 0}, {}, 422),
        ("/files/f/download", {"offset": 10 * MB}, {}, 416),
        ("/files/f/download", {"offset": 11 * MB}, {}, 416),
        ("/files/f/download", {}, {"Range": f"bytes={10 * MB}-"}, 416),
        ("/files/f/download", {}, {"Range": "bytes=0-1,5-6"}, 400),
        ("/files/f/download", {}, {"Range": "items=0-1"}, 400),
        ("/files/f/download", {}, {"Range": "bytes=9-3"}, 400),
        ("/files/f/download", {"offset": 1}, {"Range": "bytes=0-1"}, 400),
        ("/files/pending/download", {}, {}, 409),
        ("/files/gone/download", {}, {}, 404),
    ],
)
async def test_bad_requests_get_a_clear_4xx_and_charge_nothing(
    sqlite_settings: Settings, path: str, params: dict, headers: dict, status: int
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(
            account("a", 100 * MB),
            file("f", 10 * MB, ["a"]),
            file("pending", MB, ["a"], status=FileStatus.REPLICATING),
            file("gone", MB, ["a"], deleted=True),
        )
        response = await dl.client.get(path, params=params, headers=headers)
        assert response.status_code == status, response.text
        assert response.json()["detail"]
        figures = await dl.client.get("/accounts/a/stats", headers=ADMIN)
        assert figures.json()["issued_today"] == 0


async def test_no_budget_left_is_503_with_retry_after_until_the_rollover(
    sqlite_settings: Settings,
) -> None:
    clock = FakeClock()
    async with live_downloader(sqlite_settings, clock=clock) as dl:
        await dl.send(account("a", 10 * MB), account("b", 10 * MB), file("f", 4 * MB, ["a", "b"]))
        served = Counter()
        for _ in range(4):
            response = await dl.client.get("/files/f/download")
            assert response.status_code == 200
            served[response.json()["account_id"]] += 1
        assert served == {"a": 2, "b": 2}
        refused = await dl.client.get("/files/f/download")
        assert refused.status_code == 503
        assert "budget" in refused.json()["detail"]
        midnight = clock.now.replace(hour=0, minute=0) + timedelta(days=1)
        assert (
            int(refused.headers["retry-after"]) == int((midnight - clock.now).total_seconds()) + 1
        )
        # A smaller read still fits in what is left (2 MB on each account).
        partial = await dl.client.get("/files/f/download", params={"length": 2 * MB})
        assert partial.status_code == 200


async def test_disabled_accounts_and_unready_replicas_are_not_used(
    sqlite_settings: Settings,
) -> None:
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(
            account("a", 100 * MB), account("b", 100 * MB, enabled=False), file("f", MB, ["a", "b"])
        )
        accounts = {
            (await dl.client.get("/files/f/download")).json()["account_id"] for _ in range(4)
        }
        assert accounts == {"a"}
        await dl.send(account("a", 100 * MB, enabled=False))
        response = await dl.client.get("/files/f/download")
        assert response.status_code == 503
        assert "no ready replica" in response.json()["detail"]


async def test_plain_requests_take_the_fast_path_and_get_the_routes_answers(
    sqlite_settings: Settings,
) -> None:
    """A GET without a query string is answered before FastAPI's router, exactly as the route
    answers it; anything else goes on to the route."""
    async with live_downloader(sqlite_settings) as dl:
        await dl.send(
            account("a", 100 * MB),
            account("b", 100 * MB),
            file("f", MB, ["a", "b"]),
            file("pending", MB, ["a"], status=FileStatus.REPLICATING),
        )
        passed_on: list[str] = []

        async def route(scope: Scope, receive: Receive, send: Send) -> None:
            passed_on.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")
            await JSONResponse({"detail": "routed"}, status_code=299)(scope, receive, send)

        fast = DownloadFastPath(route)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            scope["app"] = dl.app  # as Starlette sets it before the middleware runs
            await fast(scope, receive, send)

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            direct = await client.get("/files/f/download", headers={"Range": "bytes=0-99"})
            assert direct.status_code == 200, direct.text
            assert direct.headers["content-type"] == "application/json"
            routed = await dl.client.get(
                "/files/f/download", params={"redirect": "false"}, headers={"Range": "bytes=0-99"}
            )
            assert routed.status_code == 200, routed.text
            mine, theirs = (
                DownloadTicket.model_validate_json(r.content).model_dump() for r in (direct, routed)
            )
            assert {mine.pop("account_id"), theirs.pop("account_id")} == {"a", "b"}  # rotation
            for ticket in (mine, theirs):
                del ticket["id"], ticket["url"]
            assert mine == theirs
            assert mine["charged_bytes"] == 100
            assert passed_on == []

            for name in ("nope", "pending"):  # domain errors: the route's status and body
                fast_error = await client.get(f"/files/{name}/download")
                route_error = await dl.client.get(
                    f"/files/{name}/download", params={"redirect": "false"}
                )
                assert fast_error.status_code == route_error.status_code
                assert fast_error.status_code in (404, 409)
                assert fast_error.json() == route_error.json()
            assert passed_on == []

            others = [
                client.get("/files/f/download", params={"offset": 1}),
                client.get("/files/bad%20id/download"),
                client.get("/files/" + "x" * 65 + "/download"),
                client.get("/files/a%0A/download"),
                client.post("/files/f/download"),
            ]
            for request in others:
                assert (await request).status_code == 299
            assert len(passed_on) == len(others)

        # In the app, it is labelled with the route's template, as the router's requests are.
        async def served() -> float:
            text = (await dl.client.get("/metrics")).text
            return sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "fileserver_http_requests_total"
                and sample.labels
                == {
                    "service": "downloader",
                    "method": "GET",
                    "route": "/files/{file_id}/download",
                    "status": "200",
                }
            )

        before = await served()
        assert (await dl.client.get("/files/f/download")).status_code == 200
        assert await served() == before + 1
