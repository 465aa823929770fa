"""The Drive emulator as a real uvicorn process for tests, and a client of its admin API.

Tests talk to the emulator over loopback exactly as production code talks to Google: the
emulator runs in its own process (``python -m services.drive_emulator``) on a free port, with
its data in a temporary folder, so restarts, dropped connections and RSS are all real.
"""

from __future__ import annotations

import hashlib
import os
import random
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from services.drive.credentials import AccountCredentials, parse_credentials

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-emulator-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorNotReady(Exception):
    """The emulator process has not answered /healthz yet."""


class Emulator:
    """One emulator process; ``start`` waits until it answers, ``stop`` until it is gone."""

    def __init__(
        self, data_dir: Path, *, env: dict[str, str] | None = None, args: list[str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.args = args or []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = env or {}
        self.log_path = data_dir / "emulator.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("FILESERVER_DRIVE_EMULATOR_")
        }
        env |= {"FILESERVER_DRIVE_EMULATOR_ADMIN_TOKEN": ADMIN_TOKEN, **self.env}
        self._log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.drive_emulator",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--log-level",
                "warning",
                *self.args,
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        for attempt in Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.1),
            retry=retry_if_exception_type((httpx.HTTPError, EmulatorNotReady)),
            reraise=True,
        ):
            with attempt:
                if self._process.poll() is not None:
                    raise RuntimeError(f"emulator exited:\n{self.log_path.read_text()[-3000:]}")
                if httpx.get(f"{self.url}healthz", timeout=2).status_code != 200:
                    raise EmulatorNotReady

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=15)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url)


@dataclass(frozen=True)
class EmulatorAccount:
    """An account created on the emulator, with the credentials JSON it issued."""

    id: str
    email: str
    credentials: dict[str, Any]

    def parsed(self) -> AccountCredentials:
        return parse_credentials(self.credentials)


class EmulatorAdmin:
    """Async client of ``/_emulator``: accounts, limits, faults, clock, metrics."""

    def __init__(self, url: str, token: str = ADMIN_TOKEN) -> None:
        self.url = url
        self.http = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = await self.http.request(method, path, **kwargs)
        answer.raise_for_status()
        return answer.json()

    async def create_account(self, kind: str = "authorized_user", **limits: int) -> EmulatorAccount:
        body = await self._json(
            "POST", "/_emulator/accounts", json={"kind": kind, "limits": limits}
        )
        return EmulatorAccount(body["account"]["id"], body["account"]["email"], body["credentials"])

    async def account(self, account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", f"/_emulator/accounts/{account_id}")
        return result

    async def files(self, account_id: str) -> list[dict[str, Any]]:
        """Every file the account holds, shared or not."""
        result: list[dict[str, Any]] = await self._json(
            "GET", f"/_emulator/accounts/{account_id}/files"
        )
        return result

    async def set_limits(self, account_id: str, **limits: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            "PATCH", f"/_emulator/accounts/{account_id}/limits", json=limits
        )
        return result

    async def revoke(self, account_id: str) -> None:
        await self._json("POST", f"/_emulator/accounts/{account_id}/revoke")

    async def set_faults(
        self, *rules: dict[str, Any], latency_ms: float = 0, seed: int | None = None
    ) -> dict[str, Any]:
        body = {"rules": list(rules), "latency_ms": latency_ms, "seed": seed}
        result: dict[str, Any] = await self._json("PUT", "/_emulator/faults", json=body)
        return result

    async def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "/_emulator/faults")
        return result

    async def clear_faults(self) -> None:
        await self._json("DELETE", "/_emulator/faults")

    async def clock(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("GET", "/_emulator/clock")
        return result

    async def advance(self, seconds: float) -> dict[str, Any]:
        result: dict[str, Any] = await self._json(
            "POST", "/_emulator/clock/advance", json={"seconds": seconds}
        )
        return result

    async def rollover(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._json("POST", "/_emulator/clock/rollover")
        return result

    async def metric(self, name: str, **labels: str) -> float:
        """A sample's value from ``/metrics`` (0 when the series does not exist yet)."""
        text = (await self.http.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return 0.0


class PatternSource:
    """Deterministic bytes of any length, generated piece by piece (never all in memory)."""

    def __init__(self, size: int, *, piece: int = 1024 * 1024, seed: bytes = b"fileserver") -> None:
        self.size = size
        self.piece = piece
        self.seed = seed
        self.md5 = hashlib.md5(usedforsecurity=False)

    def block(self, index: int) -> bytes:
        """Piece ``index``: seeded pseudo-random bytes, so no offset repeats another's."""
        length = min(self.piece, self.size - index * self.piece)
        return random.Random(self.seed + index.to_bytes(8, "big")).randbytes(length)

    def expected(self, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of the stream."""
        out = bytearray()
        for index in range(start // self.piece, end // self.piece + 1):
            block = self.block(index)
            base = index * self.piece
            out += block[max(start - base, 0) : end - base + 1]
        return bytes(out)

    async def stream(self) -> AsyncIterator[bytes]:
        """The stream, updating :attr:`md5` as it goes."""
        for index in range((self.size + self.piece - 1) // self.piece):
            block = self.block(index)
            self.md5.update(block)
            yield block
