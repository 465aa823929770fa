"""A canary in an account's credentials must never come out of the system.

The account is made by the Drive emulator (so its credentials really work) and registered
through the Uploader's API with a canary field added to them; its client secret and refresh
token are canaries too. It is then used for everything: replication of a small file, listings,
the credential check, malformed and conflicting requests, and calls that fail because the
emulator revoked the credentials. The canaries are then searched in every API answer seen, in
everything logged at DEBUG (messages and formatted exceptions), in the Uploader's,
Downloader's and worker's /metrics, in the events the Downloader got, in what the queue (Redis)
holds, and in the Uploader's stored documents (where only the Fernet token may hold them).
The emulator itself is the credentials' issuer and is not searched.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import httpx
import prometheus_client
import pytest
import redis.asyncio
from pymongo.asynchronous.database import AsyncDatabase

from tests.uploader.conftest import RunWorker
from tests.utils.downloader import ADMIN as DOWNLOADER_ADMIN
from tests.utils.downloader import INTERNAL, LiveDownloader
from tests.utils.drive import EmulatorAdmin
from tests.utils.uploader import ADMIN, LiveUploader, MiB, pattern

pytestmark = pytest.mark.integration


async def test_canary_never_leaves(
    uploader: LiveUploader,
    downloader: LiveDownloader,
    emulator_admin: EmulatorAdmin,
    worker: RunWorker,
    redis_url: str,
    mongo_db: AsyncDatabase[Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    canary = f"canary-{uuid.uuid4().hex}"
    account = await emulator_admin.create_account()
    credentials = {**account.credentials, "canary_note": canary}
    canaries = [canary, credentials["client_secret"], credentials["refresh_token"]]
    answers: list[httpx.Response] = []
    client = uploader.client

    async def call(method: str, path: str, expect: int, **kwargs: Any) -> httpx.Response:
        answer = await client.request(method, path, **kwargs)
        answers.append(answer)
        assert answer.status_code == expect, (method, path, answer.text)
        return answer

    body = {"email": account.email, "credentials": credentials}
    created = await call("POST", "/accounts", 201, json=body, headers=ADMIN)
    account_id = created.json()["id"]
    await call("GET", "/accounts", 200, headers=ADMIN)
    await call("GET", f"/accounts/{account_id}", 200, headers=ADMIN)
    await call("GET", "/accounts", 200, params={"email": account.email}, headers=ADMIN)
    checked = await call("POST", f"/accounts/{account_id}:check", 200, headers=ADMIN)
    assert checked.json()["ok"] is True

    # Replication of a small file, then the Downloader's view of it.
    file_id = (await uploader.upload(pattern(MiB), name="canary.bin"))["id"]
    await worker()
    replicated = await call("GET", f"/files/{file_id}", 200, headers=ADMIN)
    assert replicated.json()["status"] == "uploaded"
    await call("GET", "/files", 200, headers=ADMIN)
    dl = downloader.client
    for path, headers in (
        ("/internal/catalog?kind=account", INTERNAL),
        ("/internal/catalog?kind=file", INTERNAL),
        ("/reports/accounts", DOWNLOADER_ADMIN),
        ("/reports/accounts?format=csv", DOWNLOADER_ADMIN),
        (f"/accounts/{account_id}/stats", DOWNLOADER_ADMIN),
    ):
        answers.append(answer := await dl.get(path, headers=headers))
        assert answer.status_code == 200, (path, answer.text)
    answers.append(answer := await dl.get(f"/files/{file_id}/download"))
    assert answer.status_code in (200, 302, 303, 307), answer.text

    # Errors: each of these carries the canary in the request's credentials or body.
    duplicate = {"email": account.email, "credentials": credentials}
    await call("POST", "/accounts", 409, json=duplicate, headers=ADMIN)
    broken = {"type": "authorized_user", "client_id": canary, "refresh_token": canary}
    await call("PATCH", f"/accounts/{account_id}", 422, json={"credentials": broken}, headers=ADMIN)
    as_text = {"email": "other@example.com", "credentials": f'{{"type": "{canary}"}}'}
    await call("POST", "/accounts", 422, json=as_text, headers=ADMIN)
    not_json = {"email": "x@example.com", "credentials": {"type": "service_account"}}
    await call("POST", "/accounts", 422, json={**not_json, "email": canary}, headers=ADMIN)
    await call("POST", "/accounts", 422, content=canary.encode(), headers=ADMIN)
    await call("GET", "/accounts/no-such-account", 404, headers=ADMIN)  # ids are echoed: no canary
    await call("GET", "/files/no-such-file", 404, headers=ADMIN)
    await call("POST", "/accounts", 401, json=body, headers={"Authorization": f"Bearer {canary}"})

    # Failing calls: the emulator revokes the credentials; the check and a replication fail.
    await emulator_admin.revoke(account.id)
    revoked = await call("POST", f"/accounts/{account_id}:check", 200, headers=ADMIN)
    assert revoked.json()["ok"] is False
    assert revoked.json()["reason"]
    second = (await uploader.upload(pattern(MiB, seed=1), name="after-revoke.bin"))["id"]
    await worker()
    failed = await call("GET", f"/files/{second}", 200, headers=ADMIN)
    assert failed.json()["status"] == "failed", failed.text
    health = await call("GET", f"/accounts/{account_id}", 200, headers=ADMIN)
    assert health.json()["health"] == "auth_failed"

    # Metrics of the APIs and of the worker (same process: the default registry).
    answers.append(await client.get("/metrics"))
    answers.append(await dl.get("/metrics"))
    worker_metrics = prometheus_client.generate_latest().decode()

    # What the queue holds, and the stored documents (the Fernet token aside).
    queued = redis.asyncio.Redis.from_url(redis_url)
    try:
        keys = await queued.keys("*")
        values = [await queued.dump(key) or b"" for key in keys]
    finally:
        await queued.aclose()
    stored = []
    for name in await mongo_db.list_collection_names():
        async for document in mongo_db[name].find({}, {"credentials": 0, "data": 0}):
            stored.append(repr(document))

    # Logs: messages, arguments and formatted exceptions of every record.
    assert caplog.records, "the flow did log"
    logged = [caplog.text]
    for record in caplog.records:
        logged.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            logged += [repr(exc), str(exc), repr(getattr(exc, "args", ()))]

    texts = {
        **{f"answer {a.request.method} {a.request.url}": a.text for a in answers},
        **{f"answer headers {a.request.url}": repr(a.headers) for a in answers},
        "worker metrics": worker_metrics,
        "logs": "\n".join(logged),
        "stored documents": "\n".join(stored),
    }
    assert len(answers) > 20
    for where, text in texts.items():
        for secret in canaries:
            assert secret not in text, f"a credential leaked into {where}"
    for value in values:
        for secret in canaries:
            assert secret.encode() not in value, "a credential leaked into Redis"
