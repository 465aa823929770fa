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
    "uploader": {
        **COMMON,
        ("GET", "/files"): "reading the catalog is open (docs/uploader.md, API)",
        ("GET", "/files/{file_id}"): "reading the catalog is open (docs/uploader.md, API)",
    },
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
