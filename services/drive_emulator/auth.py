"""Accounts' credentials and the OAuth token endpoint, so the real client's auth code runs.

The emulator issues the same credential files Google does, pointing ``token_uri`` at its own
``/token``; google-auth then performs its real flows against it:

- ``authorized_user``: the refresh-token grant (client id, client secret, refresh token);
- ``service_account``: the JWT-bearer grant; the assertion's RS256 signature is verified with the
  public half of the key the emulator generated; its audience must be Google's token endpoint
  (google-auth always writes that one) or this ``token_uri``;
- ``emulator_token``: a bearer token that never expires (for tools that hold a token only).

Access tokens expire on the emulated clock, so advancing it a day also exercises refreshes.
Only SHA-256 hashes of secrets are stored. A revoked account's grants fail with ``invalid_grant``
and its tokens with ``401 authError``, Drive's answers for revoked access.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as auth_exceptions
from google.auth import jwt

from services.drive_emulator import errors
from services.drive_emulator.quota import Clock
from services.drive_emulator.store import Account, Store

AccountKind = Literal["authorized_user", "service_account", "emulator_token"]
REFRESH_GRANT = "refresh_token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PROJECT = "fileserver-emulator"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address)


class OAuthError(Exception):
    """An OAuth error answer: ``{"error", "error_description"}`` with its status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description


@dataclass(frozen=True)
class Issued:
    """A new account and the credentials JSON to give its user (shown once)."""

    account: Account
    credentials: dict[str, Any]


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _same(secret: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(digest(secret), stored_hash)


def _rsa_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


async def create_account(
    store: Store,
    *,
    kind: AccountKind,
    email: str | None,
    display_name: str | None,
    limits: dict[str, int],
    token_uri: str,
    created_at: str,
) -> Issued:
    """Create an account of ``kind`` and issue its credentials."""
    account_id = "acc_" + secrets.token_hex(6)
    fields: dict[str, Any] = {
        "id": account_id,
        "display_name": display_name or f"Emulated {account_id}",
        "kind": kind,
        "client_id": None,
        "secret_hash": None,
        "refresh_hash": None,
        "key_id": None,
        "public_key": None,
        "token_uri": token_uri,
        "limits": limits,
        "revoked": False,
        "created_at": created_at,
    }
    static_token: str | None = None
    if kind == "authorized_user":
        email = email or f"{account_id}@drive-emulator.test"
        client_id = f"{secrets.token_hex(8)}-emulator.apps.googleusercontent.com"
        client_secret = "GOCSPX-" + secrets.token_urlsafe(24)
        refresh_token = "1//emu-" + secrets.token_urlsafe(40)
        fields |= {
            "client_id": client_id,
            "secret_hash": digest(client_secret),
            "refresh_hash": digest(refresh_token),
        }
        credentials = {
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
            "token_uri": token_uri,
            "account": email,
            "universe_domain": "googleapis.com",
        }
    elif kind == "service_account":
        email = email or f"{account_id.replace('_', '-')}@{PROJECT}.iam.gserviceaccount.com"
        private_pem, public_pem = await anyio.to_thread.run_sync(_rsa_key)
        key_id = secrets.token_hex(20)
        client_id = str(secrets.randbelow(10**20))
        fields |= {"client_id": client_id, "key_id": key_id, "public_key": public_pem}
        credentials = {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": key_id,
            "private_key": private_pem,
            "client_email": email,
            "client_id": client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "universe_domain": "googleapis.com",
        }
    else:
        email = email or f"{account_id}@drive-emulator.test"
        static_token = "ya29.emu-static." + secrets.token_urlsafe(32)
        credentials = {"type": "emulator_token", "token": static_token}
    account = Account(email=email, **fields)
    await store.add_account(account)
    if static_token is not None:
        await store.add_token(digest(static_token), account_id, None)
    return Issued(account, credentials)


async def grant(store: Store, clock: Clock, form: dict[str, str], ttl: int) -> dict[str, Any]:
    """Answer a token request: the refresh-token or the JWT-bearer grant."""
    grant_type = form.get("grant_type", "")
    if grant_type == REFRESH_GRANT:
        account = await store.account_by("client_id", form.get("client_id", ""))
        if account is None or account.kind != "authorized_user":
            raise OAuthError(401, "invalid_client", "The OAuth client was not found.")
        if not _same(form.get("client_secret", ""), account.secret_hash):
            raise OAuthError(401, "invalid_client", "Unauthorized")
        if account.revoked or not _same(form.get("refresh_token", ""), account.refresh_hash):
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        scope = form.get("scope", "")
    elif grant_type == JWT_GRANT:
        account, scope = await _verify_assertion(store, form.get("assertion", ""))
    else:
        raise OAuthError(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
    token = "ya29.emu." + secrets.token_urlsafe(32)
    await store.add_token(digest(token), account.id, clock.timestamp() + ttl)
    return {"access_token": token, "expires_in": ttl, "scope": scope, "token_type": "Bearer"}


async def _verify_assertion(store: Store, assertion: str) -> tuple[Account, str]:
    invalid = OAuthError(400, "invalid_grant", "Invalid JWT Signature.")
    try:
        claims = jwt.decode(assertion, verify=False)  # type: ignore[no-untyped-call]
    except (ValueError, auth_exceptions.GoogleAuthError):
        raise invalid from None
    account = await store.account_by("email", str(claims.get("iss", "")))
    if account is None or account.kind != "service_account" or account.public_key is None:
        raise OAuthError(400, "invalid_grant", "Invalid grant: account not found")
    try:
        jwt.decode(  # type: ignore[no-untyped-call]
            assertion,
            certs={account.key_id or "": account.public_key},
            # google-auth always addresses its assertion to Google's endpoint, whatever token_uri.
            audience=[GOOGLE_TOKEN_URI, account.token_uri],
        )
    except (ValueError, auth_exceptions.GoogleAuthError):
        raise invalid from None
    if account.revoked:
        raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
    return account, str(claims.get("scope", ""))


async def authenticate(store: Store, clock: Clock, authorization: str | None) -> Account | None:
    """The account a request's bearer token belongs to; None without a token; 401 if invalid."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise errors.auth_error()
    found = await store.token(digest(token.strip()))
    if found is None:
        raise errors.auth_error()
    account_id, expires_at = found
    if expires_at is not None and expires_at <= clock.timestamp():
        raise errors.auth_error()
    account = await store.account(account_id)
    if account is None or account.revoked:
        raise errors.auth_error()
    return account
