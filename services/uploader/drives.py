"""One Drive client per account, for the worker's replication jobs and the API's credential check.

A client holds connections and a thread pool, so it is made once per account and process and
rebuilt only when the account's (sealed) credentials change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from services.drive.credentials import parse_credentials
from services.uploader.models import Account
from services.uploader.vault import Vault


@dataclass
class DriveClients:
    """The Drive clients of one process, by account id."""

    vault: Vault
    settings: DriveSettings
    _clients: dict[str, tuple[str, DriveClient]] = field(default_factory=dict)

    def client(self, account: Account) -> DriveClient:
        """The account's Drive client, rebuilt when its credentials change."""
        cached = self._clients.get(account.id)
        if cached is not None and cached[0] == account.credentials:
            return cached[1]
        credentials = parse_credentials(self.vault.open(account.credentials))
        client = DriveClient(credentials, self.settings, account_id=account.id)
        self._clients[account.id] = (account.credentials, client)
        return client

    async def close(self) -> None:
        for _, client in self._clients.values():
            await client.aclose()
        self._clients.clear()
