"""Drive's error answers, injected by the emulator, reach the caller as the right typed error
after the right retries: rate limits and transient failures back off exponentially and retry,
quota and not-found errors fail at once, refused credentials mark the account unhealthy.
"""

from __future__ import annotations

import itertools
import logging
import traceback

import pytest

from services.drive.client import DriveClient
from services.drive.config import DriveSettings
from services.drive.errors import (
    AuthError,
    NotFound,
    QuotaExceeded,
    QuotaKind,
    RateLimited,
    Transient,
)
from tests.drive.conftest import MakeClient, SleepRecorder
from tests.utils.drive import EmulatorAdmin, PatternSource, free_port

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 4  # drive_settings.retry_max_attempts


def rule(account_id: str, kind: str, **extra: object) -> dict[str, object]:
    return {"kind": kind, "account": account_id, "path_prefix": "/drive/v3/about", **extra}


async def fired(admin: EmulatorAdmin) -> int:
    return int((await admin.faults())["rules"][0]["fired"])


def assert_backoff(delays: list[float], retries: int) -> None:
    assert len(delays) == retries
    # multiplier 0.01 s doubling, jitter under 0.005 s: each wait longer than the one before
    assert all(later > earlier for earlier, later in itertools.pairwise(delays))
    assert all(0.01 * 2**n <= delay < 0.01 * 2**n + 0.005 for n, delay in enumerate(delays))


@pytest.mark.parametrize(
    "kind",
    [
        "userRateLimitExceeded",
        "rateLimitExceeded",
        "tooManyRequests",
        "backendError",
        "serviceUnavailable",
        "drop",
    ],
)
async def test_passing_failures_are_retried_with_backoff(
    make_client: MakeClient, emulator_admin: EmulatorAdmin, sleeps: SleepRecorder, kind: str
) -> None:
    account, client = await make_client()
    await emulator_admin.set_faults(rule(account.id, kind, count=2))
    about = await client.about()
    assert about.email == account.email
    assert await fired(emulator_admin) == 2
    assert_backoff(sleeps.delays, retries=2)


@pytest.mark.parametrize(
    ("kind", "error"),
    [("userRateLimitExceeded", RateLimited), ("backendError", Transient)],
)
async def test_persistent_failures_give_up_after_the_last_attempt(
    make_client: MakeClient,
    emulator_admin: EmulatorAdmin,
    sleeps: SleepRecorder,
    kind: str,
    error: type[Exception],
) -> None:
    account, client = await make_client()
    await emulator_admin.set_faults(rule(account.id, kind))
    with pytest.raises(error):
        await client.about()
    assert await fired(emulator_admin) == MAX_ATTEMPTS
    assert_backoff(sleeps.delays, retries=MAX_ATTEMPTS - 1)


@pytest.mark.parametrize(
    ("kind", "quota"),
    [
        ("downloadQuotaExceeded", QuotaKind.DOWNLOAD),
        ("storageQuotaExceeded", QuotaKind.STORAGE),
        ("quotaExceeded", QuotaKind.STORAGE),
        ("uploadLimitExceeded", QuotaKind.UPLOAD),
    ],
)
async def test_quota_errors_are_not_retried(
    make_client: MakeClient,
    emulator_admin: EmulatorAdmin,
    sleeps: SleepRecorder,
    kind: str,
    quota: QuotaKind,
) -> None:
    account, client = await make_client()
    await emulator_admin.set_faults(rule(account.id, kind))
    with pytest.raises(QuotaExceeded) as caught:
        await client.about()
    assert caught.value.quota is quota
    assert await fired(emulator_admin) == 1
    assert sleeps.delays == []
    assert client.health.healthy


async def test_not_found_is_not_retried(
    make_client: MakeClient, emulator_admin: EmulatorAdmin, sleeps: SleepRecorder
) -> None:
    account, client = await make_client()
    await emulator_admin.set_faults(rule(account.id, "notFound"))
    with pytest.raises(NotFound):
        await client.about()
    assert await fired(emulator_admin) == 1
    assert sleeps.delays == []


async def test_a_stale_token_is_refreshed_transparently(
    make_client: MakeClient, emulator_admin: EmulatorAdmin, sleeps: SleepRecorder
) -> None:
    account, client = await make_client()
    await client.about()
    await emulator_admin.advance(2 * 3600)  # the access token expires on the emulated clock
    assert (await client.about()).email == account.email
    assert sleeps.delays == []


@pytest.mark.parametrize("kind", ["authorized_user", "service_account"])
async def test_revoked_credentials_make_the_account_unhealthy(
    make_client: MakeClient,
    emulator_admin: EmulatorAdmin,
    sleeps: SleepRecorder,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    account, client = await make_client(kind)
    await client.about()
    assert client.health.healthy
    await emulator_admin.revoke(account.id)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(AuthError) as caught:
        await client.about()

    assert not client.health.healthy
    assert caught.value.reason == "invalid_grant"
    assert sleeps.delays == []
    text = "".join(traceback.format_exception(caught.value)) + caplog.text + repr(client)
    secrets = [
        value
        for key, value in account.credentials.items()
        if key in {"client_secret", "refresh_token", "private_key"}
    ]
    assert secrets
    for secret in secrets:
        assert secret not in text
        assert secret.splitlines()[1 if "\n" in secret else 0] not in text


async def test_unreachable_endpoint_is_transient(
    make_client: MakeClient, drive_settings: DriveSettings, sleeps: SleepRecorder
) -> None:
    account, _ = await make_client()
    closed = drive_settings.model_copy(update={"root_url": f"http://127.0.0.1:{free_port()}/"})
    async with DriveClient(account.parsed(), closed, account_id=account.id, sleep=sleeps) as client:
        with pytest.raises(Transient, match="connection failed"):
            await client.upload(PatternSource(10).stream(), "x", 10)
    assert len(sleeps.delays) == MAX_ATTEMPTS - 1


async def test_an_interrupted_chunk_retries_only_itself(
    make_client: MakeClient, emulator_admin: EmulatorAdmin, sleeps: SleepRecorder
) -> None:
    """Two 503 answers on one chunk: the upload completes, after two backoffs."""
    account, client = await make_client()
    await emulator_admin.set_faults(
        {
            "kind": "serviceUnavailable",
            "account": account.id,
            "method": "PUT",
            "skip": 1,
            "count": 2,
        }
    )
    source = PatternSource(3 * 1024 * 1024)
    uploaded = await client.upload(source.stream(), "x.bin", source.size)
    assert uploaded.md5 == source.md5.hexdigest()
    assert await fired(emulator_admin) == 2
    assert_backoff(sleeps.delays, retries=2)
