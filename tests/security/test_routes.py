"""Every route of every service refuses a request without credentials, unless it is listed
here as deliberately public, with the reason.

The routes come from each app's ``app.routes`` (routers included through FastAPI's
``include_router`` are expanded), so a route added later is covered automatically: it either
refuses anonymous requests or has to be added to ``PUBLIC`` with a reason. Each request is
sent to the running app (lifespan started, real backing servers), without any header, with a
JSON body of ``{}`` for the mutating methods; it must answer 401 or 403.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fuzz.conftest import LiveApp
from tests.uploader.conftest import RegisterAccounts, RunWorker
from tests.utils.downloader import LiveDownloader
from tests.utils.drive import ADMIN_TOKEN as EMULATOR_ADMIN_TOKEN
from tests.utils.uploader import LiveUploader

pytestmark = pytest.mark.integration

GRANT_KEYS = ("client_id", "client_secret", "refresh_token")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
DOCS = "the API's own description (no data)"
PROBES = "liveness/readiness probes of the kubelet (status words only)"
METRICS = "Prometheus scrape, on the API port; no secrets in it (tests/security/test_canary.py)"

COMMON = {
    ("GET", "/openapi.json"): DOCS,
    ("GET", "/docs"): DOCS,
    ("GET", "/docs/oauth2-redirect"): DOCS,
    ("GET", "/redoc"): DOCS,
    ("GET", "/healthz"): PROBES,
    ("GET", "/readyz"): PROBES,
    ("GET", "/metrics"): METRICS,
}

PUBLIC: dict[str, dict[tuple[str, str], str]] = {
    # Its catalog is not: a file's replicas name their Drive ids (see below).
    "uploader": dict(COMMON),
    "downloader": {
        **COMMON,
        ("GET", "/files/{file_id}/download"): "the public download URL every user calls",
    },
    # Stats has probes and metrics only: its work comes from the queue, not from HTTP.
    "stats": dict(COMMON),
    "drive-emulator": {
        **COMMON,
        ("POST", "/token"): "OAuth token endpoint: the grant in its body is the credential",
        ("GET", "/drive/v3/files/{file_id}"): "Drive's files.get answers for a file shared with "
        "anyone without a token (any other file: 404, tested below)",
        ("PUT", "/upload/drive/v3/files"): "Drive's resumable protocol: the session URI (its "
        "upload_id) is the credential; an unknown one is 404",
        ("GET", "/uc"): "Drive's 'anyone with the link' download, what download URLs point to",
        ("GET", "/download"): "Drive's direct download of a shared file",
    },
}
# The emulator has no readiness route; the others have no route the common list lacks.
PUBLIC["drive-emulator"].pop(("GET", "/readyz"))


PUBLIC_GRANT_KEYS = ("client_id", "client_secret", "refresh_token")
MUTATING = {
    ("drive-emulator", "POST", "/token"),
    ("drive-emulator", "PUT", "/upload/drive/v3/files"),
}


PUBLIC_MUTATING = {
    ("drive-emulator", "POST", "/token"),
    ("drive-emulator", "PUT", "/upload/drive/v3/files"),
}


def routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, with the routes of included routers expanded."""
    for route in app.routes:
        # FastAPI ≥ 0.16x keeps an included router as one entry; its contexts are the routes.
        expanded: Any = getattr(route, "effective_route_contexts", None)
        for item in expanded() if expanded is not None else [route]:
            for method in sorted(getattr(item, "methods", None) or ()):
                if method != "HEAD":
                    yield method, item.path


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "probe-0", path)


async def assert_refused_without_credentials(service: str, live: Any) -> None:
    app: FastAPI = live.app
    client: httpx.AsyncClient = live.client
    public = PUBLIC[service]
    found = set(routes(app))
    assert found
    assert set(public) <= found, f"stale PUBLIC entries: {set(public) - found}"
    unprotected = []
    for method, path in sorted(found - set(public)):
        body = {"json": {}} if method in MUTATING else {}
        answer = await client.request(method, concrete(path), **body)
        if answer.status_code not in (401, 403):
            unprotected.append(f"{method} {path} → {answer.status_code} {answer.text[:120]}")
    assert not unprotected, "answered without credentials:\n" + "\n".join(unprotected)
    # Internal routes are never public, mutating ones only where the protocol says so.
    for method, path in public:
        assert method not in MUTATING or (service, method, path) in PUBLIC_MUTATING
        assert not path.startswith(("/internal", "/_emulator"))


async def test_uploader_routes(uploader: LiveUploader) -> None:
    await assert_refused_without_credentials("uploader", uploader)


async def test_downloader_routes(downloader: LiveDownloader) -> None:
    await assert_refused_without_credentials("downloader", downloader)


async def test_stats_routes(stats_app: LiveApp) -> None:
    await assert_refused_without_credentials("stats", stats_app)


async def test_drive_emulator_routes(emulator_app: LiveApp) -> None:
    await assert_refused_without_credentials("drive-emulator", emulator_app)
    # Its token endpoint refuses a grant it did not issue.
    answer = await emulator_app.client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "client_id": "x",
            "client_secret": "y",
            "refresh_token": "z",
        },
    )
    assert answer.status_code in (400, 401), answer.text
    # Its anonymous files.get shows only files shared with anyone.
    admin = {"Authorization": f"Bearer {EMULATOR_ADMIN_TOKEN}"}
    made = await emulator_app.client.post(
        "/_emulator/accounts", json={"kind": "authorized_user"}, headers=admin
    )
    creds = made.json()["credentials"]
    grant = {"grant_type": "refresh_token", **{k: creds[k] for k in GRANT_KEYS}}
    token = (await emulator_app.client.post("/token", data=grant)).json()["access_token"]
    user = {"Authorization": f"Bearer {token}"}
    started = await emulator_app.client.post(
        "/upload/drive/v3/files",
        params={"uploadType": "resumable"},
        json={"name": "private.bin"},
        headers={**user, "X-Upload-Content-Length": "3"},
    )
    assert started.status_code == 200, started.text
    done = await emulator_app.client.put(started.headers["location"], content=b"abc")
    assert done.status_code == 200, done.text
    file_id = done.json()["id"]
    assert (await emulator_app.client.get(f"/drive/v3/files/{file_id}", headers=user)).is_success
    anonymous = await emulator_app.client.get(f"/drive/v3/files/{file_id}")
    assert anonymous.status_code == 404, anonymous.text


async def test_wrong_tokens_are_refused(uploader: LiveUploader, downloader: LiveDownloader) -> None:
    """The admin token does not open internal routes, nor the reverse, nor one service's
    token another's."""
    from tests.utils.downloader import ADMIN as DL_ADMIN
    from tests.utils.downloader import INTERNAL
    from tests.utils.uploader import ADMIN as UP_ADMIN

    for headers in (DL_ADMIN, UP_ADMIN, {"X-API-Key": "nope"}):
        answer = await downloader.client.post(
            "/internal/events", json={"events": []}, headers=headers
        )
        assert answer.status_code == 401
    for headers in (INTERNAL, UP_ADMIN):
        answer = await downloader.client.get("/reports/files", headers=headers)
        assert answer.status_code == 401
    for headers in (INTERNAL, DL_ADMIN, {"Authorization": "Basic " + UP_ADMIN["Authorization"]}):
        answer = await uploader.client.get("/accounts", headers=headers)
        assert answer.status_code == 401


async def test_an_anonymous_caller_learns_a_drive_id_only_from_a_charged_download(
    uploader: LiveUploader,
    downloader: LiveDownloader,
    stats_app: LiveApp,
    register_accounts: RegisterAccounts,
    worker: RunWorker,
) -> None:
    """A Drive id is a link anyone can fetch, past the Downloader's budget: every public route
    of the services is called anonymously on a replicated file, and only the download route,
    which charges an account for the URL it hands out, names one."""
    from tests.utils.downloader import ADMIN as DL_ADMIN
    from tests.utils.uploader import ADMIN as UP_ADMIN
    from tests.utils.uploader import MiB, pattern

    await register_accounts(2)
    file_id = (await uploader.upload(pattern(MiB), name="public.bin"))["id"]
    await worker()
    admin_view = (await uploader.client.get(f"/files/{file_id}", headers=UP_ADMIN)).json()
    assert admin_view["status"] == "uploaded", admin_view
    drive_ids = {r["drive_file_id"] for r in admin_view["replicas"]}
    account_ids = {r["account_id"] for r in admin_view["replicas"]}
    assert len(drive_ids) == len(account_ids) == 2, admin_view
    values = {"file_id": file_id, "account_id": sorted(account_ids)[0]}

    seen: list[str] = []
    for service, live in (("uploader", uploader), ("downloader", downloader), ("stats", stats_app)):
        for method, path in sorted(PUBLIC[service]):
            if method != "GET" or path == "/files/{file_id}/download":
                continue
            url = re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)
            answer = await live.client.get(url)
            leaked = [i for i in drive_ids if i in answer.text]
            assert not leaked, f"{service} {path} names Drive ids {leaked}: {answer.text[:200]}"
            seen.append(f"{service} {path}")
    assert "uploader /metrics" in seen  # the routes were really called
    # The Uploader's catalog, which names them, refuses anonymous callers.
    for url in ("/files", f"/files/{file_id}"):
        assert (await uploader.client.get(url)).status_code == 401

    # The download route: one Drive id, and its bytes charged to that replica's account.
    ticket = (await downloader.client.get(f"/files/{file_id}/download")).json()
    (named,) = [i for i in drive_ids if i in ticket["url"]]
    holder = next(r["account_id"] for r in admin_view["replicas"] if r["drive_file_id"] == named)
    assert ticket["account_id"] == holder
    assert ticket["charged_bytes"] == MiB
    figures = await downloader.client.get(f"/accounts/{holder}/stats", headers=DL_ADMIN)
    assert figures.status_code == 200, figures.text
    assert figures.json()["issued_today"] == MiB, figures.json()  # the ledger, in real time
