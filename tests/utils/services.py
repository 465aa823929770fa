"""Downloader and Stats as real processes (``python -m services.downloader`` / ``services.stats``).

End-to-end tests start them on free ports with their settings in the environment, kill them
with SIGKILL to test crash recovery, and start them again on the same port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import httpx
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from tests.utils.drive import PROJECT_ROOT, free_port


class NotReady(Exception):
    """The process has not answered its readiness probe yet."""


class ServiceProcess:
    """One service process; ``start`` waits for ``/readyz``."""

    def __init__(self, module: str, env: dict[str, str], log_dir: Path, *, prefix: str) -> None:
        self.module = module
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, f"{prefix}HOST": "127.0.0.1", f"{prefix}PORT": str(self.port)}
        self.log_path = log_dir / f"{module.rsplit('.', 1)[-1]}-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILESERVER_")}
        env |= self.env
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        for attempt in Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.1),
            retry=retry_if_exception_type((httpx.HTTPError, NotReady)),
            reraise=True,
        ):
            with attempt:
                if self._process.poll() is not None:
                    raise RuntimeError(
                        f"{self.module} exited:\n{self.log_path.read_text()[-3000:]}"
                    )
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code != 200:
                    raise NotReady

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs (a crash)."""
        if self._process is not None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=15)
            self._process = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
            self._process = None
        self._close_log()
