"""Credentials parse into google-auth credentials; no secret shows in text, ever."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.oauth2 import credentials as oauth2_credentials
from google.oauth2 import service_account

from services.drive.credentials import (
    GOOGLE_TOKEN_URI,
    CredentialsError,
    load_credentials,
    parse_credentials,
)

pytestmark = pytest.mark.unit

SECRET = "GOCSPX-very-secret-value"
REFRESH = "1//refresh-token-secret"
OAUTH = {
    "type": "authorized_user",
    "client_id": "123-abc.apps.googleusercontent.com",
    "client_secret": SECRET,
    "refresh_token": REFRESH,
}


def test_authorized_user_keeps_its_token_uri() -> None:
    parsed = parse_credentials({**OAUTH, "token_uri": "http://127.0.0.1:9/token"})
    creds = parsed.to_google(["https://www.googleapis.com/auth/drive"])
    assert isinstance(creds, oauth2_credentials.Credentials)
    assert creds.token_uri == "http://127.0.0.1:9/token"
    assert creds.refresh_token == REFRESH


def test_authorized_user_defaults_to_google() -> None:
    creds = parse_credentials(json.dumps(OAUTH)).to_google([])
    assert isinstance(creds, oauth2_credentials.Credentials)
    assert creds.token_uri == GOOGLE_TOKEN_URI


def test_text_of_credentials_shows_no_secret() -> None:
    parsed = parse_credentials(OAUTH)
    for text in (str(parsed), repr(parsed)):
        assert SECRET not in text
        assert REFRESH not in text
        assert "authorized_user" in text


def test_missing_fields_are_named_without_values() -> None:
    with pytest.raises(CredentialsError) as caught:
        parse_credentials({"type": "authorized_user", "client_secret": SECRET})
    assert "client_id" in str(caught.value)
    assert "refresh_token" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (f'{{"type": "authorized_user", "client_secret": "{SECRET}"', "not valid JSON"),
        ("[1, 2]", "must be an object"),
        ({"type": "api_key", "key": SECRET}, "'type' must be one of"),
    ],
)
def test_unusable_credentials(data: str | dict[str, str], message: str) -> None:
    with pytest.raises(CredentialsError, match=message) as caught:
        parse_credentials(data)
    assert SECRET not in str(caught.value)


def test_malformed_service_account_key_does_not_quote_it() -> None:
    info = {
        "type": "service_account",
        "client_email": "sa@p.iam.gserviceaccount.com",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-key-" + SECRET,
        "token_uri": GOOGLE_TOKEN_URI,
    }
    parsed = parse_credentials(info)
    assert parsed.identity == "sa@p.iam.gserviceaccount.com"
    with pytest.raises(CredentialsError) as caught:
        parsed.to_google([])
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_subject_only_for_service_accounts(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    path.write_text(json.dumps(OAUTH))
    with pytest.raises(CredentialsError, match="impersonate"):
        load_credentials(path, subject="user@example.com")


def test_emulator_token_is_a_fixed_bearer() -> None:
    creds = parse_credentials({"type": "emulator_token", "token": "ya29.x"}).to_google([])
    assert isinstance(creds, oauth2_credentials.Credentials)
    assert creds.token == "ya29.x"
    assert not isinstance(creds, service_account.Credentials)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials(tmp_path / "missing.json")
