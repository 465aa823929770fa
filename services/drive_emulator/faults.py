"""Fault injection: the failures a client must survive, on demand and reproducibly.

Rules are set through the admin API. Each names a kind (any Drive error of
:data:`~services.drive_emulator.errors.FAULT_ERRORS`, or ``drop``), a probability, optionally
how many times it fires and how many matching requests pass first, and which requests it
matches (account, method, path prefix). ``drop`` closes the connection after ``after_bytes`` of
the transfer (upload body or download body): the client sees a reset or a truncated answer,
and the bytes that got through are kept, as Drive keeps them. ``latency_ms`` delays every
Drive request. The dice are seeded, so a load run replays the same faults.
"""

from __future__ import annotations

import asyncio
import random

from pydantic import BaseModel, Field, field_validator
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from services.drive_emulator import metrics
from services.drive_emulator.errors import FAULT_ERRORS

DROP = "drop"


class FaultRule(BaseModel):
    """One kind of fault and the requests it hits."""

    kind: str
    rate: float = Field(default=1.0, ge=0, le=1, description="probability per matching request")
    count: int | None = Field(default=None, ge=0, description="fire at most this many times")
    skip: int = Field(
        default=0, ge=0, description="let this many matching requests through first (counts down)"
    )
    account: str | None = Field(default=None, description="only this account's requests")
    method: str | None = None
    path_prefix: str | None = None
    after_bytes: int = Field(default=0, ge=0, description="drop: bytes let through first")
    fired: int = Field(default=0, description="times it fired (reported, not set)")

    @field_validator("kind")
    @classmethod
    def _known(cls, value: str) -> str:
        if value != DROP and value not in FAULT_ERRORS:
            raise ValueError(f"kind must be {DROP!r} or one of {sorted(FAULT_ERRORS)}")
        return value


class FaultConfig(BaseModel):
    """Everything fault injection does; replaced as a whole by ``PUT /_emulator/faults``."""

    rules: list[FaultRule] = Field(default_factory=list)
    latency_ms: float = Field(default=0, ge=0)
    seed: int | None = None


class DropConnection(Exception):
    """Raised by a handler to abandon the request without a complete answer."""


class DroppedResponse(Response):
    """Starts an answer and abandons it: the server then closes the connection."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 500, "headers": [(b"content-length", b"1")]}
        )


class Faults:
    """The current fault configuration and its seeded dice."""

    def __init__(self, seed: int | None) -> None:
        self.config = FaultConfig(seed=seed)
        self._dice = random.Random(seed)  # noqa: S311 (reproducible dice, not secrets)

    def configure(self, config: FaultConfig) -> None:
        for rule in config.rules:
            rule.fired = 0
        self.config = config
        if config.seed is not None:
            self._dice.seed(config.seed)

    async def apply(self, *, method: str, path: str, account_id: str | None) -> int | None:
        """Delay, then raise the Drive error a rule picks, or return a drop's byte budget."""
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        for rule in self.config.rules:
            if not self._matches(rule, method, path, account_id):
                continue
            if rule.skip:
                rule.skip -= 1
                continue
            if rule.count is not None and rule.fired >= rule.count:
                continue
            if self._dice.random() >= rule.rate:
                continue
            rule.fired += 1
            metrics.FAULTS.labels(rule.kind).inc()
            if rule.kind == DROP:
                return rule.after_bytes
            raise FAULT_ERRORS[rule.kind]()
        return None

    @staticmethod
    def _matches(rule: FaultRule, method: str, path: str, account_id: str | None) -> bool:
        return (
            (rule.account is None or rule.account == account_id)
            and (rule.method is None or rule.method.upper() == method)
            and (rule.path_prefix is None or path.startswith(rule.path_prefix))
        )
