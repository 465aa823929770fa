"""Account credentials at rest: Fernet-encrypted JSON, decrypted only to build a Drive client.

The plaintext never reaches a log line, an API answer, an event or an exception message: the
only way out of this module is :meth:`Vault.open`, whose result goes straight to the Drive
layer's credential parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken


class VaultError(Exception):
    """Stored credentials cannot be decrypted (wrong key, or tampered with)."""


class Vault:
    """Encrypts and decrypts credentials with the key from the settings."""

    def __init__(self, key: str) -> None:
        self._fernet = Fernet(key.encode())

    def __repr__(self) -> str:
        return "Vault(<key hidden>)"

    def seal(self, credentials: Mapping[str, Any]) -> str:
        """The encrypted form of a credentials JSON object."""
        return self._fernet.encrypt(json.dumps(dict(credentials)).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """The credentials JSON object back from its encrypted form."""
        try:
            data: dict[str, Any] = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise VaultError("stored credentials cannot be decrypted with this key") from None
        return data
