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
    docker: str
    debootstrap: str
    etcd: str
    go_toolchain: str
    ferretdb: str
    kubernetes: str
    kubernetes_staging: str
    kwok: str
    helm: str
    jmeter: str
    kind: str
    crictl: str
    cni_plugins: str
    coredns: str
    kube_router: str
    local_path: str
    prometheus_image: str
    skaffold: str
    debian_suite: str

    @classmethod
    def load(cls, path: Path) -> Versions:
        """Parse ``versions.toml``; a missing key is a clear error, not a default."""
        data = tomllib.loads(path.read_text())
        try:
            return cls(
                postgresql=data["debian"]["postgresql"],
                redis=data["debian"]["redis"],
                prometheus=data["debian"]["prometheus"],
                docker=data["debian"]["docker"],
                debootstrap=data["debian"]["debootstrap"],
                etcd=data["go"]["etcd"],
                go_toolchain=data["go"]["toolchain"],
                ferretdb=data["go"]["ferretdb"],
                kubernetes=data["go"]["kubernetes"],
                kubernetes_staging=data["go"]["kubernetes_staging"],
                kwok=data["go"]["kwok"],
                helm=data["go"]["helm"],
                jmeter=data["maven"]["jmeter"],
                kind=data["go"]["kind"],
                crictl=data["go"]["crictl"],
                cni_plugins=data["go"]["cni_plugins"],
                coredns=data["go"]["coredns"],
                kube_router=data["go"]["kube_router"],
                local_path=data["go"]["local_path"],
                prometheus_image=data["go"]["prometheus_image"],
                skaffold=data["go"]["skaffold"],
                debian_suite=data["images"]["debian"],
            )
        except KeyError as exc:
            raise ValueError(f"{path}: missing version key {exc}") from exc
