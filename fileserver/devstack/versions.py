"""The pinned versions of every devstack server, read from the project's ``versions.toml``."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Versions:
    """Pinned versions; Debian ones are upstream-version prefixes."""

    postgresql: str
    redis: str
    prometheus: str
    etcd: str
    go_toolchain: str
    ferretdb: str
    kubernetes: str
    kubernetes_staging: str
    kwok: str
    helm: str
    jmeter: str

    @classmethod
    def load(cls, path: Path) -> Versions:
        """Parse ``versions.toml``; a missing key is a clear error, not a default."""
        data = tomllib.loads(path.read_text())
        try:
            return cls(
                postgresql=data["debian"]["postgresql"],
                redis=data["debian"]["redis"],
                prometheus=data["debian"]["prometheus"],
                etcd=data["go"]["etcd"],
                go_toolchain=data["go"]["toolchain"],
                ferretdb=data["go"]["ferretdb"],
                kubernetes=data["go"]["kubernetes"],
                kubernetes_staging=data["go"]["kubernetes_staging"],
                kwok=data["go"]["kwok"],
                helm=data["go"]["helm"],
                jmeter=data["maven"]["jmeter"],
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing version key {exc}") from exc
