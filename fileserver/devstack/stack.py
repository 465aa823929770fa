"""The devstack as a whole: bring servers up in dependency order, stop them, report status."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from fileserver.devstack.config import DevstackSettings, get_settings
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.images import Images
from fileserver.devstack.kind import KindCluster, ensure_node_binaries
from fileserver.devstack.process import ManagedProcess
from fileserver.devstack.report import info, stage
from fileserver.devstack.servers import SERVERS, Context, Docker, Server, port_in_use
from fileserver.devstack.versions import Versions

S = TypeVar("S", bound=Server)


@dataclass(frozen=True)
class ServerStatus:
    """One line of ``fileserver dev status``."""

    name: str
    running: bool
    ready: bool
    pid: int | None
    endpoint: str


class Stack:
    """The devstack's servers, found through their pid files in the state folder."""

    def __init__(self, settings: DevstackSettings | None = None, *, cluster: bool = True) -> None:
        self.settings = settings or get_settings()
        self.versions = Versions.load(self.settings.versions_file)
        self.ctx = Context(self.settings, self.versions, cluster=cluster)
        self.servers: dict[str, Server] = {cls.name: cls(self.ctx) for cls in SERVERS}

    def server(self, cls: type[S]) -> S:
        """The typed instance of one server class (``stack.server(Postgres).dsn()``)."""
        found = self.servers[cls.name]
        assert isinstance(found, cls)
        return found

    def process(self, name: str) -> ManagedProcess:
        return ManagedProcess(name, self.servers[name].state)

    def default_names(self) -> list[str]:
        """The data servers and, unless the cluster is off, the control plane.

        The container engine starts only when asked for (``--only docker``) or by the kind
        cluster: nothing else needs it, and it is the one server that changes the host's
        network (a bridge, NAT rules).
        """
        return [
            n
            for n, s in self.servers.items()
            if s.group == "data" or (self.ctx.cluster and s.group == "cluster")
        ]

    def resolve(self, names: Iterable[str]) -> list[Server]:
        """The servers named and what they require, in start order."""
        wanted: set[str] = set()

        def add(name: str) -> None:
            if name not in self.servers:
                raise DevstackError(
                    f"unknown server {name!r}", f"one of: {', '.join(self.servers)}"
                )
            if name not in wanted:
                wanted.add(name)
                for dep in self.servers[name].requires:
                    add(dep)

        for name in names:
            add(name)
        return [s for n, s in self.servers.items() if n in wanted]

    def install(self, names: Iterable[str] | None = None) -> list[Server]:
        """Install or build what the named servers (default: all) need; returns them in order."""
        order = self.resolve(self.default_names() if names is None else names)
        for server in order:
            server.install()
        return order

    def up(self, names: Iterable[str] | None = None) -> list[str]:
        """Start what is not running yet; on failure stop what this call started. Returns it."""
        order = self.install(names)
        started: list[str] = []
        try:
            for server in order:
                proc = self.process(server.name)
                if proc.running():
                    self._wait_ready(server, proc)
                    continue
                busy = [p for p in server.ports if port_in_use(p)]
                if busy:
                    env = f"FILESERVER_DEV_PORT_{server.name.upper().replace('-', '_')}"
                    raise DevstackError(
                        f"{server.name}: port {', '.join(map(str, busy))} is already in use by "
                        "a process this devstack did not start",
                        f"stop that process, or choose another port with {env}=<port>",
                    )
                with stage(f"start {server.name}"):
                    try:
                        server.prepare()
                        proc.start(server.spec())
                    except OSError as exc:
                        raise DevstackError(
                            f"{server.name} could not be started: {exc}",
                            f"check {server.state}; `fileserver dev reset` starts from empty data",
                        ) from exc
                    started.append(server.name)
                    self._wait_ready(server, proc)
                    server.after_start()
                    info(server.endpoint())
        except BaseException:
            for name in reversed(started):
                self.process(name).stop()
            raise
        return started

    def _wait_ready(self, server: Server, proc: ManagedProcess) -> None:
        def probe() -> bool:
            if not proc.running():
                raise DevstackError(
                    f"{server.name} exited during start-up; last lines of {proc.log_file}:\n"
                    f"{proc.log_tail()}",
                    "fix the cause above, or `fileserver dev reset` to start from empty data",
                )
            return server.ready()

        try:
            Retrying(
                stop=stop_after_delay(server.ready_timeout),
                wait=wait_fixed(0.25),
                retry=retry_if_result(lambda ok: not ok),  # a DevstackError is not retried
            )(probe)
        except RetryError as exc:
            raise DevstackError(
                f"{server.name} did not become ready within {server.ready_timeout:.0f}s; "
                f"last lines of {proc.log_file}:\n{proc.log_tail()}",
                "look at the log above; `fileserver dev reset` starts from empty data",
            ) from exc

    def down(self, names: Iterable[str] | None = None) -> list[str]:
        """Stop the named servers (default: all) that this devstack started, newest first."""
        chosen = set(self.servers if names is None else names)
        stopped = []
        for name in reversed(list(self.servers)):
            if name in chosen and self.process(name).stop():
                stopped.append(name)
        return stopped

    def status(self) -> list[ServerStatus]:
        """Whether each server runs and answers its readiness probe."""
        result = []
        for name, server in self.servers.items():
            pid = self.process(name).pid()
            result.append(
                ServerStatus(
                    name=name,
                    running=pid is not None,
                    ready=pid is not None and server.ready(),
                    pid=pid,
                    endpoint=server.endpoint() if pid is not None else "",
                )
            )
        return result

    def images(self) -> Images:
        """The image builder, on the devstack's container engine (started if needed)."""
        self.up(["docker"])
        return Images(self.settings, self.versions, self.server(Docker).host)

    def kind(self) -> KindCluster:
        """The kind cluster, with the binaries its node image needs built."""
        images = self.images()
        binaries = ensure_node_binaries(
            self.versions,
            self.settings.cache_dir,
            self.ctx.binaries,
            public=self.settings.images == "public",
        )
        return KindCluster(
            self.settings, self.versions, self.server(Docker).env(), images, binaries
        )

    def reset(self) -> None:
        """Stop everything and delete all data; binaries stay cached."""
        self.down()
        for server in self.servers.values():  # data may live outside the state folder
            shutil.rmtree(server.data, ignore_errors=True)
        shutil.rmtree(self.settings.state_dir, ignore_errors=True)
