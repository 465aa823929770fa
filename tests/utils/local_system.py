"""A private local system for tests: its own state folder and free ports for every server
and service, so it never meets a developer's ``fileserver up`` or another test run.

The same settings reach ``fileserver`` subprocesses through the environment
(``FILESERVER_DEV_*``, ``FILESERVER_SYSTEM_*``) and in-process code as settings objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from fileserver.devstack.config import DevstackSettings, Ports
from fileserver.devstack.stack import Stack
from fileserver.system.config import SystemSettings
from fileserver.system.system import LocalSystem
from tests.utils.drive import PROJECT_ROOT, free_port

DATA_SERVERS = ("redis", "ferretdb", "prometheus")
FILESERVER = Path(sys.executable).parent / "fileserver"  # the installed console script
SERVICE_PORTS = ("uploader", "downloader", "stats", "uploader_worker_metrics", "emulator")


@dataclass(frozen=True)
class PrivateSystem:
    state_dir: Path
    ports: dict[str, int]  # devstack server ports (Ports fields)
    service_ports: dict[str, int]  # SystemSettings *_port fields, without the suffix

    @classmethod
    def allocate(cls, state_dir: Path) -> PrivateSystem:
        return cls(
            state_dir=state_dir,
            ports={name: free_port() for name in Ports.model_fields},
            service_ports={name: free_port() for name in SERVICE_PORTS},
        )

    @property
    def env(self) -> dict[str, str]:
        """The environment that points ``fileserver`` at this system (and nothing else)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILESERVER_")}
        env["FILESERVER_DEV_STATE_DIR"] = str(self.state_dir)
        env |= {f"FILESERVER_DEV_PORT_{k.upper()}": str(v) for k, v in self.ports.items()}
        env |= {
            f"FILESERVER_SYSTEM_{k.upper()}_PORT": str(v) for k, v in self.service_ports.items()
        }
        env["XDG_CONFIG_HOME"] = str(self.state_dir / "no-config")  # no user config file
        return env

    def local_system(self) -> LocalSystem:
        """The same system as an in-process object (pid files, secrets, service URLs)."""
        devstack = DevstackSettings(state_dir=self.state_dir, ports=Ports(**self.ports))
        settings = SystemSettings(**{f"{k}_port": v for k, v in self.service_ports.items()})
        return LocalSystem(Stack(devstack, cluster=False), settings)

    def all_ports(self) -> list[int]:
        used = [self.ports[name] for name in DATA_SERVERS]
        return used + list(self.service_ports.values())

    def fileserver(
        self, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``fileserver …`` as a subprocess against this system (stdout/stderr piped)."""
        return subprocess.run(
            [str(FILESERVER), *args],
            env=env or self.env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
