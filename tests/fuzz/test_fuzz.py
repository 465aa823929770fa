"""Schemathesis against every service's generated OpenAPI, on real backing servers.

Each service is fuzzed twice: with the credentials each operation needs (admin, internal or a
Drive access token) and without any. Every response must be a non-5xx, with a documented
status code, content type and body schema; negative (schema-violating) requests must be
refused. The budgets are small and the generation seeded, so the same cases run every time.
"""

from __future__ import annotations

import pytest

from tests.fuzz import harness
from tests.fuzz.conftest import LiveApp
from tests.utils.downloader import ADMIN as DOWNLOADER_ADMIN
from tests.utils.downloader import INTERNAL, LiveDownloader
from tests.utils.drive import ADMIN_TOKEN as EMULATOR_ADMIN_TOKEN
from tests.utils.uploader import ADMIN as UPLOADER_ADMIN
from tests.utils.uploader import LiveUploader

pytestmark = pytest.mark.integration


def _check(run: harness.FuzzRun, *, errors_documented: bool = True) -> None:
    """No check failed; and, where the service declares its errors, every 4xx is declared.

    The Drive emulator answers with Drive's error bodies, which its OpenAPI does not describe:
    its undocumented 4xx are tallied (docs/security.md, "Fuzzing"), not failed.
    """
    print(run.summary())
    assert run.cases > 0
    assert not run.failures, run.report()
    if errors_documented:
        assert not run.undocumented, "4xx answers missing from the OpenAPI: " + "; ".join(
            f"{operation} {sorted(codes)}" for operation, codes in sorted(run.undocumented.items())
        )


async def test_uploader(uploader: LiveUploader) -> None:
    schema = await harness.load_schema(uploader.client)
    passes = (lambda _m, _p: UPLOADER_ADMIN, harness.no_credentials)
    _check(await harness.run("uploader", uploader.client, schema, passes=passes))


def _downloader_credentials(_method: str, path: str) -> dict[str, str]:
    return INTERNAL if path.startswith("/internal/") else DOWNLOADER_ADMIN


async def test_downloader(any_downloader: LiveDownloader) -> None:
    schema = await harness.load_schema(any_downloader.client)
    passes = (_downloader_credentials, harness.no_credentials)
    _check(await harness.run("downloader", any_downloader.client, schema, passes=passes))


async def test_stats(stats_app: LiveApp) -> None:
    schema = await harness.load_schema(stats_app.client)
    _check(await harness.run("stats", stats_app.client, schema))


async def test_drive_emulator(emulator_app: LiveApp) -> None:
    emulator_client = emulator_app.client
    admin = {"Authorization": f"Bearer {EMULATOR_ADMIN_TOKEN}"}
    made = await emulator_client.post(
        "/_emulator/accounts", json={"kind": "authorized_user", "limits": {}}, headers=admin
    )
    assert made.status_code == 201, made.text
    creds = made.json()["credentials"]
    token = await emulator_client.post(
        "/token",
        data={
            "grant_type": "refresh_token",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"],
        },
    )
    assert token.status_code == 200, token.text
    user = {"Authorization": f"Bearer {token.json()['access_token']}"}

    def credentials(_method: str, path: str) -> dict[str, str]:
        return admin if path.startswith("/_emulator/") else user

    schema = await harness.load_schema(emulator_client)
    # Faults are the emulator's deliberate 5xx and dropped connections: configuring random ones
    # would make every later answer an injected failure.
    skip = [("PUT", "/_emulator/faults")]
    passes = (credentials, harness.no_credentials)
    run = await harness.run("drive-emulator", emulator_client, schema, passes=passes, skip=skip)
    _check(run, errors_documented=False)
