"""One class per devstack server: how to prepare its data folder, start it and probe it.

Servers know nothing of each other beyond ``requires``; :mod:`fileserver.devstack.stack`
orders, starts and stops them.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import ssl
import stat
import subprocess
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import yaml

from fileserver.devstack import install, pki
from fileserver.devstack.config import DevstackSettings
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.process import ProcessSpec
from fileserver.devstack.versions import Versions

LOOPBACK = "127.0.0.1"


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """Whether something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _others_can_traverse(path: Path) -> bool:
    """Whether every existing ancestor of ``path`` lets other users pass (o+x)."""
    for folder in [path, *path.resolve().parents]:
        if folder.exists() and not folder.stat().st_mode & stat.S_IXOTH:
            return False
    return True


def http_ok(url: str, context: ssl.SSLContext | None = None, expect: str | None = None) -> bool:
    """Whether ``url`` answers 200 (and contains ``expect`` if given) within two seconds."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310
            body = resp.read().decode(errors="replace")
            return resp.status == 200 and (expect is None or expect in body)
    except (urllib.error.URLError, OSError, ValueError):
        return False


@dataclass
class Context:
    """What every server needs: settings, versions and (lazily) the built binaries."""

    settings: DevstackSettings
    versions: Versions
    cluster: bool = True

    @cached_property
    def binaries(self) -> install.GoBinaries:
        return install.ensure_go_binaries(
            self.versions, self.settings.cache_dir, cluster=self.cluster
        )

    @property
    def pki_dir(self) -> Path:
        return self.settings.state_dir / "kube" / "pki"

    def kubeconfig(self, component: str = "admin") -> Path:
        """The kubeconfig of one control-plane identity (``admin`` for people and tests)."""
        return self.settings.state_dir / "kube" / f"{component}.kubeconfig"


class Server(ABC):
    """A server the devstack runs as one process."""

    name: ClassVar[str]
    group: ClassVar[str]  # "data" or "cluster"
    requires: ClassVar[tuple[str, ...]] = ()
    ready_timeout: ClassVar[float] = 60.0

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @property
    def state(self) -> Path:
        """This server's folder: ``data/``, its log and its pid file."""
        return self.ctx.settings.state_dir / self.name

    @property
    def data(self) -> Path:
        return self.state / "data"

    @property
    @abstractmethod
    def port(self) -> int: ...

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port the server binds (checked free before start)."""
        return (self.port,)

    def install(self) -> None:  # noqa: B027  (most servers need nothing installed)
        """Make sure the server's software is present (built, installed)."""

    def prepare(self) -> None:
        """Initialise the data folder on first start."""
        self.data.mkdir(parents=True, exist_ok=True)

    @abstractmethod
    def spec(self) -> ProcessSpec: ...

    @abstractmethod
    def ready(self) -> bool:
        """One readiness probe."""

    def after_start(self) -> None:  # noqa: B027  (most servers need no set-up)
        """One-time set-up once the server answers (databases, nodes)."""

    @abstractmethod
    def endpoint(self) -> str:
        """What a client connects to, for people and for tests."""


# --- data servers ----------------------------------------------------------------------------


class Postgres(Server):
    name = "postgres"
    group = "data"
    user = "fileserver"
    database = "fileserver"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.postgres

    @property
    def bin(self) -> Path:
        return install.postgres_bin(self.ctx.versions)

    @property
    def password(self) -> str:
        return (self.state / "password").read_text().strip()

    @property
    def run_as(self) -> str | None:
        """PostgreSQL refuses to run as root: as root, run it as the ``postgres`` user."""
        return "postgres" if os.geteuid() == 0 else None

    @property
    def data(self) -> Path:
        """The cluster's folder, which the server's user must be able to reach.

        Running as root, the server runs as ``postgres``; if the state folder lies below a
        directory that user cannot enter (a clone under /root, say), the data goes to a
        folder under /var/lib named after the state folder instead.
        """
        if self.run_as is None or _others_can_traverse(self.state):
            return self.state / "data"
        digest = hashlib.sha256(str(self.state.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/fileserver-devstack") / digest / "postgres"

    def install(self) -> None:
        install.ensure_debian_packages(self.ctx.versions)

    def prepare(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        if (self.data / "PG_VERSION").exists():
            return
        shutil.rmtree(self.data, ignore_errors=True)
        self.data.mkdir(parents=True)
        pw_file = self.state / "password"
        pw_file.write_text(secrets.token_urlsafe(24))
        pw_file.chmod(0o600)
        initdb_pw = self.data.parent / "initdb.pw"
        shutil.copy(pw_file, initdb_pw)
        if self.run_as:
            owner = pwd.getpwnam(self.run_as)
            for path in (self.data, initdb_pw):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        try:
            proc = subprocess.run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    f"--pwfile={initdb_pw}",
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
                check=False,
                user=self.run_as,
            )
        finally:
            initdb_pw.unlink(missing_ok=True)
        if proc.returncode != 0:
            shutil.rmtree(self.data, ignore_errors=True)
            raise DevstackError(
                f"initdb failed: {proc.stderr.strip()[-500:]}",
                "check that the state folder is writable by the postgres user",
            )

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            argv=[
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={LOOPBACK}",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=300",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
            user=self.run_as,
        )

    def ready(self) -> bool:
        proc = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-q"],
            check=False,
        )
        return proc.returncode == 0

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement as the devstack's superuser."""
        proc = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PGPASSWORD": self.password},
        )
        if proc.returncode != 0:
            raise DevstackError(f"psql failed: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` unless it exists (names are the devstack's own)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise DevstackError(f"bad database name {name!r}")
        if not self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}'"):  # noqa: S608
            self.psql(f"CREATE DATABASE {name}")

    def after_start(self) -> None:
        self.ensure_database(self.database)

    def dsn(self, database: str | None = None) -> str:
        """A SQLAlchemy-style DSN (``postgresql://``) for ``database``."""
        return (
            f"postgresql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/"
            f"{database or self.database}"
        )

    def endpoint(self) -> str:
        return f"postgresql://{self.user}:***@{LOOPBACK}:{self.port}/{self.database}"


class Redis(Server):
    name = "redis"
    group = "data"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.redis

    def install(self) -> None:
        install.ensure_debian_packages(self.ctx.versions)

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            argv=[
                "redis-server",
                "--bind",
                LOOPBACK,
                "--port",
                str(self.port),
                "--dir",
                str(self.data),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
            ],
        )

    def ready(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def endpoint(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"


class FerretDB(Server):
    name = "ferretdb"
    group = "data"
    ready_timeout = 30.0

    @property
    def requires(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("postgres",) if self.ctx.settings.ferretdb_backend == "postgresql" else ()

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.ferretdb

    def install(self) -> None:
        _ = self.ctx.binaries.ferretdb

    def spec(self) -> ProcessSpec:
        argv = [
            str(self.ctx.binaries.ferretdb),
            "-listen-addr",
            f"{LOOPBACK}:{self.port}",
            "-log-level",
            "warn",
        ]
        if self.ctx.settings.ferretdb_backend == "postgresql":
            pg = Postgres(self.ctx)
            argv += ["-handler", "postgresql", "-postgresql-url", pg.dsn("ferretdb")]
        else:
            argv += ["-handler", "sqlite", "-sqlite-url", f"file:{self.data}/"]
        return ProcessSpec(argv=argv)

    def prepare(self) -> None:
        super().prepare()
        if self.ctx.settings.ferretdb_backend == "postgresql":
            Postgres(self.ctx).ensure_database("ferretdb")

    def ready(self) -> bool:
        # An isMaster handshake would need a driver; a TCP accept plus the log line is enough
        # here, and the pymongo client used by the services retries on its own.
        return port_in_use(self.port)

    def endpoint(self) -> str:
        return f"mongodb://{LOOPBACK}:{self.port}/"


class Prometheus(Server):
    name = "prometheus"
    group = "data"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.prometheus

    @property
    def targets_dir(self) -> Path:
        """Drop ``<job>.json`` file_sd files here to have Prometheus scrape a process."""
        return self.state / "targets"

    def install(self) -> None:
        install.ensure_debian_packages(self.ctx.versions)

    def prepare(self) -> None:
        super().prepare()
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        ports = self.ctx.settings.ports
        config = {
            "global": {"scrape_interval": "5s", "evaluation_interval": "5s"},
            "scrape_configs": [
                {
                    "job_name": "prometheus",
                    "static_configs": [{"targets": [f"{LOOPBACK}:{self.port}"]}],
                },
                {"job_name": "etcd", "static_configs": [{"targets": [f"{LOOPBACK}:{ports.etcd}"]}]},
                {"job_name": "kwok", "static_configs": [{"targets": [f"{LOOPBACK}:{ports.kwok}"]}]},
                {
                    "job_name": "fileserver",
                    "scrape_interval": "1s",
                    "file_sd_configs": [
                        {"files": [str(self.targets_dir / "*.json")], "refresh_interval": "1s"}
                    ],
                },
            ],
        }
        (self.state / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def register_target(self, job: str, address: str, labels: dict[str, str] | None = None) -> Path:
        """Have Prometheus scrape ``address`` (host:port) as ``job``; returns the file to remove."""
        path = self.targets_dir / f"{job}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps([{"targets": [address], "labels": {"job": job, **(labels or {})}}])
        )
        tmp.rename(path)
        return path

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            argv=[
                "prometheus",
                f"--config.file={self.state / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=7d",
            ],
        )

    def ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.port}/-/ready")

    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/"


# --- Kubernetes control plane ----------------------------------------------------------------


def _client_tls(ctx: Context, component: str = "admin") -> ssl.SSLContext:
    """TLS trusting the devstack CA and presenting ``component``'s client certificate."""
    tls = ssl.create_default_context(cafile=str(ctx.pki_dir / "ca.crt"))
    tls.load_cert_chain(ctx.pki_dir / f"{component}.crt", ctx.pki_dir / f"{component}.key")
    return tls


def _self_signed_ok() -> ssl.SSLContext:
    """TLS for the controller manager's and scheduler's self-signed health endpoints."""
    tls = ssl.create_default_context()
    tls.check_hostname = False
    tls.verify_mode = ssl.CERT_NONE
    return tls


class Etcd(Server):
    name = "etcd"
    group = "cluster"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.etcd

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.ctx.settings.ports.etcd_peer)

    def install(self) -> None:
        _ = self.ctx.binaries.etcd

    def spec(self) -> ProcessSpec:
        client = f"http://{LOOPBACK}:{self.port}"
        peer = f"http://{LOOPBACK}:{self.ctx.settings.ports.etcd_peer}"
        return ProcessSpec(
            argv=[
                str(self.ctx.binaries.etcd),
                "--name",
                "devstack",
                "--data-dir",
                str(self.data),
                "--listen-client-urls",
                client,
                "--advertise-client-urls",
                client,
                "--listen-peer-urls",
                peer,
                "--initial-advertise-peer-urls",
                peer,
                "--initial-cluster",
                f"devstack={peer}",
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
            ],
        )

    def ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.port}/health", expect='"health":"true"')

    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


class KubeAPIServer(Server):
    name = "kube-apiserver"
    group = "cluster"
    requires = ("etcd",)
    ready_timeout = 120.0

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.kube_apiserver

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def install(self) -> None:
        _ = self.ctx.binaries.kube

    def prepare(self) -> None:
        super().prepare()
        pki.ensure_pki(self.ctx.pki_dir)
        for component in pki.CLIENTS:
            pki.write_kubeconfig(
                self.ctx.kubeconfig(component), self.ctx.pki_dir, component, self.url
            )

    def spec(self) -> ProcessSpec:
        p = self.ctx.pki_dir
        return ProcessSpec(
            argv=[
                str(self.ctx.binaries.kube_tool("kube-apiserver")),
                f"--etcd-servers=http://{LOOPBACK}:{self.ctx.settings.ports.etcd}",
                f"--bind-address={LOOPBACK}",
                f"--secure-port={self.port}",
                f"--advertise-address={LOOPBACK}",
                # Pods here are simulated by kwok: nothing in the cluster dials the API server
                # through the `kubernetes` Service, whose endpoints may not be loopback.
                "--endpoint-reconciler-type=none",
                f"--tls-cert-file={p / 'apiserver.crt'}",
                f"--tls-private-key-file={p / 'apiserver.key'}",
                f"--client-ca-file={p / 'ca.crt'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={p / 'sa.pub'}",
                f"--service-account-signing-key-file={p / 'sa.key'}",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--profiling=false",
                "--event-ttl=1h",
                "-v=1",
            ]
        )

    def ready(self) -> bool:
        return http_ok(f"{self.url}/readyz", context=_client_tls(self.ctx), expect="ok")

    def endpoint(self) -> str:
        return f"{self.url} (kubeconfig {self.ctx.kubeconfig()})"


class _KubeComponent(Server):
    """A control-plane component with a client-certificate identity and a secure health port."""

    group = "cluster"
    requires = ("kube-apiserver",)
    identity: ClassVar[str]  # its kubeconfig in .state/kube/

    def install(self) -> None:
        _ = self.ctx.binaries.kube

    def extra_flags(self) -> list[str]:
        return []

    def spec(self) -> ProcessSpec:
        kubeconfig = self.ctx.kubeconfig(self.identity)
        return ProcessSpec(
            argv=[
                str(self.ctx.binaries.kube_tool(self.name)),
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                f"--bind-address={LOOPBACK}",
                f"--secure-port={self.port}",
                f"--cert-dir={self.data}",
                "--leader-elect=false",
                "--profiling=false",
                "-v=1",
                *self.extra_flags(),
            ]
        )

    def ready(self) -> bool:
        return http_ok(f"https://{LOOPBACK}:{self.port}/healthz", context=_self_signed_ok())

    def endpoint(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/healthz"


class KubeControllerManager(_KubeComponent):
    name = "kube-controller-manager"
    identity = "controller-manager"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.kube_controller_manager

    def extra_flags(self) -> list[str]:
        p = self.ctx.pki_dir
        return [
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p / 'sa.key'}",
            f"--root-ca-file={p / 'ca.crt'}",
            f"--cluster-signing-cert-file={p / 'ca.crt'}",
            f"--cluster-signing-key-file={p / 'ca.key'}",
        ]


class KubeScheduler(_KubeComponent):
    name = "kube-scheduler"
    identity = "scheduler"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.kube_scheduler


class Kwok(Server):
    """Simulated nodes: pods scheduled onto them become Running without containers."""

    name = "kwok"
    group = "cluster"
    requires = ("kube-apiserver",)
    node_annotation = "kwok.x-k8s.io/node"

    @property
    def port(self) -> int:
        return self.ctx.settings.ports.kwok

    def install(self) -> None:
        _ = self.ctx.binaries.kwok

    def spec(self) -> ProcessSpec:
        return ProcessSpec(
            argv=[
                str(self.ctx.binaries.kwok),
                f"--kubeconfig={self.ctx.kubeconfig()}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-annotation-selector={self.node_annotation}=fake",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.0.0.1",
                f"--server-address={LOOPBACK}:{self.port}",
                "--node-lease-duration-seconds=40",
            ]
        )

    def ready(self) -> bool:
        return http_ok(f"http://{LOOPBACK}:{self.port}/healthz")

    def after_start(self) -> None:
        nodes = [self._node(f"kwok-node-{i}") for i in range(self.ctx.settings.kwok_nodes)]
        manifest = yaml.safe_dump_all(nodes)
        proc = subprocess.run(
            [
                str(self.ctx.binaries.kube_tool("kubectl")),
                f"--kubeconfig={self.ctx.kubeconfig()}",
                "apply",
                "-f",
                "-",
            ],
            input=manifest,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise DevstackError(f"creating kwok nodes failed: {proc.stderr.strip()}")

    def _node(self, name: str) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "annotations": {self.node_annotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    "kubernetes.io/hostname": name,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "spec": {},
            "status": {
                "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
            },
        }

    def endpoint(self) -> str:
        return f"{self.ctx.settings.kwok_nodes} simulated nodes"


# --- container engine ------------------------------------------------------------------------


RUNC_BOUNDED = Path(__file__).parent / "runtime" / "runc-bounded"


def bounding_set_is_reduced() -> bool:
    """Whether this process may not hold every capability the kernel knows.

    Then Docker's privileged containers (kind's nodes) fail in runc, and the devstack's engine
    runs them through ``runtime/runc-bounded``, which asks only for what can be had.
    """
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return int(line.split()[1], 16) != (1 << (last + 1)) - 1
    return False


class Docker(Server):
    """Debian's Docker engine (with its containerd), for building images and running kind.

    There is no init system to start it, so the devstack runs ``dockerd`` like its other
    servers, on a socket of its own: a Docker that the machine may already run is left alone.
    Its images live in the cache folder, so that a built image survives ``dev reset`` and a
    second run rebuilds nothing.
    """

    name = "docker"
    group = "containers"
    ready_timeout = 60.0

    @property
    def port(self) -> int:
        return 0  # a Unix socket, no TCP port

    @property
    def ports(self) -> tuple[int, ...]:
        return ()

    @property
    def socket(self) -> Path:
        return self.state / "docker.sock"

    @property
    def host(self) -> str:
        """The DOCKER_HOST that reaches this engine."""
        return f"unix://{self.socket}"

    @property
    def data_root(self) -> Path:
        """The engine's images, containers and volumes: in the cache folder, so that images
        outlive ``dev reset`` (which deletes ``data`` of every server, under ``.state/``)."""
        return self.ctx.settings.cache_dir / "docker"

    def install(self) -> None:
        if os.geteuid() != 0:
            raise DevstackError(
                "the container engine needs root (it manages cgroups, mounts and bridges)",
                "run the command as root",
            )
        install.ensure_debian_packages(self.ctx.versions, install.CONTAINER_PACKAGES)

    def spec(self) -> ProcessSpec:
        runtime = []
        if bounding_set_is_reduced():
            runtime = [f"--add-runtime=bounded={RUNC_BOUNDED}", "--default-runtime=bounded"]
        return ProcessSpec(
            argv=[
                "dockerd",
                *runtime,
                f"--host={self.host}",
                f"--data-root={self.data_root}",
                f"--exec-root={self.state / 'exec'}",
                f"--pidfile={self.state / 'dockerd.pid'}",
                "--log-level=warn",
                # Containers keep running while the engine restarts (kind's nodes included).
                "--live-restore",
            ],
            # The classic builder: Debian's engine has no buildx (docs/devstack.md).
            env={"DOCKER_BUILDKIT": "0"},
        )

    def ready(self) -> bool:
        proc = subprocess.run(
            ["docker", "--host", self.host, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            text=True,
            check=False,
        )
        return proc.returncode == 0 and bool(proc.stdout.strip())

    def env(self) -> dict[str, str]:
        """Environment for the docker CLI and kind: this engine, the classic builder."""
        return {"DOCKER_HOST": self.host, "DOCKER_BUILDKIT": "0"}

    def endpoint(self) -> str:
        return self.host


SERVERS: tuple[type[Server], ...] = (
    Postgres,
    Redis,
    FerretDB,
    Prometheus,
    Etcd,
    KubeAPIServer,
    KubeControllerManager,
    KubeScheduler,
    Kwok,
    Docker,
)
