"""The emulator's OAuth token endpoint: refresh-token and JWT-bearer grants, Google's error
answers, revocation, and token expiry on the emulated clock."""

from __future__ import annotations

import time

import httpx
import pytest
from google.auth import crypt, jwt

from tests.drive_emulator.conftest import MakeDrive, access_token
from tests.utils.drive import Emulator, EmulatorAdmin

pytestmark = pytest.mark.integration
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


async def token_request(emulator: Emulator, **form: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=emulator.url) as http:
        return await http.post("/token", data=form)


async def test_refresh_grant(emulator: Emulator, admin: EmulatorAdmin) -> None:
    creds = (await admin.create_account()).credentials
    assert creds["token_uri"] == f"{emulator.url}token"
    good = await token_request(
        emulator,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token=creds["refresh_token"],
        scope="https://www.googleapis.com/auth/drive",
    )
    assert good.status_code == 200
    body = good.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "https://www.googleapis.com/auth/drive"

    wrong_secret = await token_request(
        emulator,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret="nope",
        refresh_token=creds["refresh_token"],
    )
    assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
    wrong_token = await token_request(
        emulator,
        grant_type="refresh_token",
        client_id=creds["client_id"],
        client_secret=creds["client_secret"],
        refresh_token="1//forged",
    )
    assert wrong_token.status_code == 400
    assert wrong_token.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    unknown = await token_request(emulator, grant_type="password")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "unsupported_grant_type")


def assertion(info: dict[str, str], key_pem: str, audience: str) -> str:
    signer = crypt.RSASigner.from_string(key_pem, info["private_key_id"])
    now = int(time.time())
    claims = {
        "iss": info["client_email"],
        "aud": audience,
        "iat": now,
        "exp": now + 600,
        "scope": "https://www.googleapis.com/auth/drive",
    }
    return jwt.encode(signer, claims).decode()  # type: ignore[no-untyped-call]


async def test_jwt_grant_checks_the_signature(emulator: Emulator, admin: EmulatorAdmin) -> None:
    info = (await admin.create_account("service_account")).credentials
    other = (await admin.create_account("service_account")).credentials
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    for audience in (GOOGLE_TOKEN_URI, info["token_uri"]):
        good = await token_request(
            emulator, grant_type=grant, assertion=assertion(info, info["private_key"], audience)
        )
        assert good.status_code == 200, good.text
    forged = await token_request(
        emulator,
        grant_type=grant,
        assertion=assertion(info, other["private_key"], GOOGLE_TOKEN_URI),
    )
    assert forged.status_code == 400
    assert forged.json()["error"] == "invalid_grant"
    elsewhere = await token_request(
        emulator,
        grant_type=grant,
        assertion=assertion(info, info["private_key"], "https://example.com/token"),
    )
    assert elsewhere.status_code == 400


async def test_revocation_and_expiry(
    drive: MakeDrive, admin: EmulatorAdmin, emulator: Emulator
) -> None:
    api = await drive()
    assert (await api.http.get("/drive/v3/files")).status_code == 200
    await admin.advance(3601)
    expired = await api.http.get("/drive/v3/files")
    assert expired.json()["error"]["errors"][0]["reason"] == "authError"
    await api.refresh()
    assert (await api.http.get("/drive/v3/files")).status_code == 200

    await admin.revoke(api.account.id)
    assert (await api.http.get("/drive/v3/files")).status_code == 401
    with pytest.raises(httpx.HTTPStatusError) as caught:
        await access_token(emulator.url, api.account.credentials)
    assert caught.value.response.json()["error"] == "invalid_grant"
    assert (await admin.account(api.account.id))["revoked"] is True
