"""The local system's credentials: generated once, kept in a 0600 file in the state folder.

Real deployments take these from Kubernetes Secrets; locally they must still be real random
values, because the services refuse placeholder secrets outside development mode.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.fernet import Fernet


@dataclass(frozen=True)
class SystemSecrets:
    uploader_admin_token: str
    downloader_admin_token: str
    downloader_internal_token: str
    emulator_admin_token: str
    credentials_key: str  # Fernet key encrypting Drive credentials at rest in the Uploader

    @classmethod
    def generate(cls) -> SystemSecrets:
        return cls(
            uploader_admin_token=secrets.token_urlsafe(32),
            downloader_admin_token=secrets.token_urlsafe(32),
            downloader_internal_token=secrets.token_urlsafe(32),
            emulator_admin_token=secrets.token_urlsafe(32),
            credentials_key=Fernet.generate_key().decode(),
        )

    @classmethod
    def load_or_create(cls, path: Path) -> SystemSecrets:
        """The secrets stored at ``path``, created (mode 0600) on first use."""
        if path.exists():
            return cls(**json.loads(path.read_text()))
        created = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(created), fh)
        return created
