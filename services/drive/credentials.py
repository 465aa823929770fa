"""An account's credentials JSON, parsed into google-auth credentials without leaking it.

Three shapes are accepted, each as Google (or the emulator) hands it out:

- ``{"type": "authorized_user", "client_id", "client_secret", "refresh_token"[, "token_uri"]}``:
  an OAuth user refresh token, the preferred kind (service accounts created since April 2025 get
  no Drive storage of their own). google-auth's ``from_authorized_user_info`` always replaces
  ``token_uri`` with Google's, so the credentials are built directly to honour the emulator's.
- ``{"type": "service_account", "client_email", "private_key", "token_uri", ...}``: a
  service-account key, used with a shared drive or with domain-wide delegation (``subject``).
- ``{"type": "emulator_token", "token": ...}``: a fixed bearer token issued by the emulator.

Parsing errors name the missing fields only, never values; ``repr`` shows the kind and identity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import google.oauth2.credentials
from google.auth.credentials import Credentials
from google.oauth2 import service_account

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 (an address, not a secret)

CredentialKind = Literal["authorized_user", "service_account", "emulator_token"]

_REQUIRED: dict[str, tuple[str, ...]] = {
    "authorized_user": ("client_id", "client_secret", "refresh_token"),
    "service_account": ("client_email", "private_key", "token_uri"),
    "emulator_token": ("token",),
}


class CredentialsError(ValueError):
    """The credentials JSON is unusable; the message never contains any of its values."""


@dataclass(frozen=True, eq=False)
class AccountCredentials:
    """One account's parsed credentials; secrets stay out of ``repr`` and ``str``."""

    kind: CredentialKind
    identity: str
    info: Mapping[str, Any] = field(repr=False)
    subject: str | None = None

    def __str__(self) -> str:
        return f"{self.kind} credentials for {self.identity}"

    def to_google(self, scopes: Sequence[str]) -> Credentials:
        """Fresh google-auth credentials (each client owns its own token state)."""
        info = self.info
        if self.kind == "authorized_user":
            return google.oauth2.credentials.Credentials(  # type: ignore[no-untyped-call]
                token=None,
                refresh_token=info["refresh_token"],
                token_uri=info.get("token_uri") or GOOGLE_TOKEN_URI,
                client_id=info["client_id"],
                client_secret=info["client_secret"],
                scopes=list(scopes),
                quota_project_id=info.get("quota_project_id"),
            )
        if self.kind == "service_account":
            try:
                creds: Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
                    dict(info), scopes=list(scopes), subject=self.subject
                )
            except (ValueError, TypeError, KeyError) as exc:
                # The library's message may quote the key material: keep only its type.
                raise CredentialsError(
                    f"service-account key for {self.identity} is malformed ({type(exc).__name__})"
                ) from None
            return creds
        return google.oauth2.credentials.Credentials(token=info["token"])  # type: ignore[no-untyped-call]


def parse_credentials(
    data: str | bytes | Mapping[str, Any], *, subject: str | None = None
) -> AccountCredentials:
    """Parse an account's credentials JSON (text or already decoded).

    ``subject`` is the user a service account impersonates through domain-wide delegation.
    """
    if isinstance(data, str | bytes):
        try:
            info = json.loads(data)
        except ValueError:
            raise CredentialsError("credentials are not valid JSON") from None
    else:
        info = dict(data)
    if not isinstance(info, dict):
        raise CredentialsError("credentials JSON must be an object")
    kind = info.get("type")
    if kind not in _REQUIRED:
        raise CredentialsError("credentials 'type' must be one of " + ", ".join(sorted(_REQUIRED)))
    missing = [name for name in _REQUIRED[kind] if not isinstance(info.get(name), str)]
    if missing:
        raise CredentialsError(f"{kind} credentials lack field(s): {', '.join(missing)}")
    if subject is not None and kind != "service_account":
        raise CredentialsError("only service-account credentials can impersonate a subject")
    return AccountCredentials(kind=kind, identity=_identity(kind, info), info=info, subject=subject)


def load_credentials(path: Path, *, subject: str | None = None) -> AccountCredentials:
    """Read and parse a credentials file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror}") from None
    return parse_credentials(text, subject=subject)


def _identity(kind: str, info: Mapping[str, Any]) -> str:
    """A non-secret name for log lines: the service account's email or the OAuth client id."""
    if kind == "service_account":
        return str(info["client_email"])
    if kind == "authorized_user":
        return str(info.get("account") or f"client {info['client_id']}")
    return "emulator token"
