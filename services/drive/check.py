"""``fileserver drive check``: does this credentials file work against Drive, and if not, why?

An operator adding an account to the pool wants one answer before trusting it: who the
credentials belong to, how much storage they have, and whether a small file survives an upload,
a read back and a delete. Each step reports what it saw; a failure says what to fix. Retries are
cut short so that an unreachable endpoint answers in seconds, not after minutes of backoff.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from services.drive.client import DriveAbout, DriveClient, DriveFile
from services.drive.config import DriveSettings
from services.drive.credentials import CredentialsError, load_credentials
from services.drive.errors import (
    AuthError,
    DriveError,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    Transient,
)

PROBE_BYTES = 64 * 1024
REQUIRED_STEPS = frozenset({"credentials", "identity", "upload", "download", "delete"})


@dataclass(frozen=True)
class Step:
    """One checked capability: its name, whether it works, and what was seen or must change."""

    name: str
    ok: bool
    detail: str


def explain(error: DriveError, settings: DriveSettings) -> str:
    """The error with a hint at its usual cause."""
    if isinstance(error, AuthError):
        hint = (
            "the credentials were refused: a revoked or expired refresh token (apps in "
            "'Testing' publishing status get 7-day tokens), a deleted service-account key, or "
            "a wrong client secret"
        )
    elif isinstance(error, Transient):
        hint = f"cannot talk to {settings.root_url}: no network path, or the service is down"
    elif isinstance(error, QuotaExceeded):
        hint = f"the account's {error.quota} quota is spent; try again after it resets"
    elif isinstance(error, RateLimited):
        hint = "rate limited even after backoff; retry later"
    elif isinstance(error, PermissionDenied):
        hint = (
            "refused: is the Drive API enabled for the credentials' project, and does a "
            "service account have a shared drive or domain-wide delegation?"
        )
    else:
        hint = "Drive refused the request"
    return f"{hint} ({error})"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def run_check(
    credentials_path: Path, settings: DriveSettings, *, subject: str | None = None
) -> list[Step]:
    """Check the credentials step by step; stops at the first step that fails."""
    settings = settings.model_copy(
        update={
            "retry_max_attempts": min(settings.retry_max_attempts, 2),
            "retry_initial_seconds": min(settings.retry_initial_seconds, 0.5),
            "http_timeout_seconds": min(settings.http_timeout_seconds, 20.0),
        }
    )
    try:
        credentials = load_credentials(credentials_path, subject=subject)
    except CredentialsError as exc:
        return [Step("credentials", False, str(exc))]
    steps = [Step("credentials", True, str(credentials))]
    async with DriveClient(credentials, settings, account_id="check") as client:
        current = "identity"
        uploaded: DriveFile | None = None
        try:
            about = await client.about()
            steps.append(Step(current, True, f"{about.email} ({about.display_name})"))
            steps.append(_storage_step(about))
            current = "upload"
            payload = os.urandom(PROBE_BYTES)
            name = f"fileserver-check-{uuid.uuid4().hex[:8]}.bin"
            uploaded = await client.upload(_once(payload), name, len(payload))
            steps.append(Step(current, True, f"{name} ({len(payload)} bytes) as {uploaded.id}"))
            current = "download"
            data = await client.read(uploaded.id, 0, len(payload) - 1)
            same = hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
            steps.append(Step(current, same, "bytes match" if same else "bytes differ"))
            current = "delete"
            await client.delete(uploaded.id)
            steps.append(Step(current, True, f"{uploaded.id} deleted"))
        except DriveError as exc:
            steps.append(Step(current, False, explain(exc, settings)))
            if uploaded is not None and current != "delete":
                with contextlib.suppress(DriveError):
                    await client.delete(uploaded.id, missing_ok=True)
    return steps


def usable(steps: list[Step]) -> bool:
    """Whether every step ran and passed."""
    names = {step.name for step in steps}
    return all(step.ok for step in steps) and names >= REQUIRED_STEPS


def _storage_step(about: DriveAbout) -> Step:
    if about.storage_limit is None:
        return Step("storage quota", True, f"{about.storage_usage / 1e9:.2f} GB used, no limit")
    free = about.storage_limit - about.storage_usage
    return Step(
        "storage quota",
        free > PROBE_BYTES,
        f"{about.storage_usage / 1e9:.2f} GB used of {about.storage_limit / 1e9:.2f} GB",
    )
