"""Bring the local system up and down: devstack servers, then the services in order."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.devstack.errors import DevstackError
from fileserver.devstack.process import ManagedProcess, ProcessSpec
from fileserver.devstack.report import info, stage
from fileserver.devstack.servers import LOOPBACK, Prometheus, port_in_use
from fileserver.devstack.stack import Stack
from fileserver.system.config import SystemSettings
from fileserver.system.secrets import SystemSecrets
from fileserver.system.services import ServiceDef, service_defs

DATA_SERVERS = ("redis", "ferretdb", "prometheus")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    pid: int | None
    ready: bool
    url: str
    pods: str = ""  # ready/wanted replicas, on a cluster


class LocalSystem:
    """The whole system as local processes, found through pid files like the devstack."""

    def __init__(self, stack: Stack | None = None, settings: SystemSettings | None = None) -> None:
        self.stack = stack or Stack(cluster=False)
        self.settings = settings or SystemSettings()
        self.home = self.stack.settings.state_dir / "system"
        self.secrets = SystemSecrets.load_or_create(self.home / "secrets.json")
        self.services = service_defs(self.stack, self.settings, self.secrets)
        self._record = self.home / "started.json"

    def managed(self) -> list[ServiceDef]:
        """Every process ``up`` starts, in start order."""
        return list(self.services)

    def service(self, name: str) -> ServiceDef:
        return next(s for s in self.managed() if s.name == name)

    def url(self, name: str) -> str:
        return self.service(name).url

    def process(self, service: ServiceDef) -> ManagedProcess:
        return ManagedProcess(
            service.name, self.stack.settings.state_dir / "services" / service.name
        )

    # --- up ------------------------------------------------------------------------------

    def up(self) -> list[str]:
        """Start what is not running; on failure stop what this call started. Returns it."""
        started_servers = self.stack.up(DATA_SERVERS)
        started: list[str] = []
        try:
            for service in self.services:
                if self._start(service):
                    started.append(service.name)
        except BaseException:
            for name in reversed(started):
                self.process(self.service(name)).stop()
            self.stack.down(started_servers)
            raise
        self._remember(started_servers, started)
        return started_servers + started

    def _start(self, service: ServiceDef) -> bool:
        proc = self.process(service)
        if proc.running():
            return False
        if port_in_use(service.port):
            raise DevstackError(
                f"{service.name}: port {service.port} is already in use",
                "stop that process, or move the service with "
                f"FILESERVER_SYSTEM_{service.name.upper().replace('-', '_')}_PORT=<port>",
            )
        with stage(f"start {service.name}"):
            proc.start(ProcessSpec(argv=service.argv, env=service.env, cwd=PROJECT_ROOT))
            self._wait_ready(service, proc)
            self.stack.server(Prometheus).register_target(
                f"fileserver-{service.name}", f"{LOOPBACK}:{service.port}"
            )
            info(service.url)
        return True

    def _wait_ready(self, service: ServiceDef, proc: ManagedProcess) -> None:
        def probe() -> bool:
            if not proc.running():
                raise DevstackError(
                    f"{service.name} exited during start-up; last lines of {proc.log_file}:\n"
                    f"{proc.log_tail()}"
                )
            return _answers(service)

        try:
            Retrying(
                stop=stop_after_delay(60),
                wait=wait_fixed(0.2),
                retry=retry_if_result(lambda ok: not ok),
            )(probe)
        except RetryError as exc:
            proc.stop()
            raise DevstackError(
                f"{service.name} did not answer {service.ready_path} within 60s; "
                f"last lines of {proc.log_file}:\n{proc.log_tail()}"
            ) from exc

    def _remember(self, servers: list[str], services: list[str]) -> None:
        """Record what ``up`` started so that ``down`` stops exactly that."""
        previous = self._recorded()
        merged = {
            "servers": sorted(set(previous["servers"]) | set(servers)),
            "services": sorted(set(previous["services"]) | set(services)),
        }
        self._record.write_text(json.dumps(merged))

    def _recorded(self) -> dict[str, list[str]]:
        try:
            data = json.loads(self._record.read_text())
            return {"servers": list(data["servers"]), "services": list(data["services"])}
        except (FileNotFoundError, ValueError, KeyError):
            return {"servers": [], "services": []}

    # --- down and status -----------------------------------------------------------------

    def down(self) -> list[str]:
        """Stop every service, then the devstack servers ``up`` started."""
        stopped = [s.name for s in reversed(self.managed()) if self.process(s).stop()]
        for service in self.managed():
            (self.stack.server(Prometheus).targets_dir / f"fileserver-{service.name}.json").unlink(
                missing_ok=True
            )
        stopped += self.stack.down(self._recorded()["servers"])
        self._record.unlink(missing_ok=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        """Every service: its pid and whether it answers."""
        result = []
        for service in self.managed():
            pid = self.process(service).pid()
            result.append(
                ServiceStatus(service.name, pid, pid is not None and _answers(service), service.url)
            )
        return result


def _answers(service: ServiceDef) -> bool:
    try:
        return httpx.get(f"{service.url}{service.ready_path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
