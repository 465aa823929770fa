"""Stats survives a Redis outage: its queue worker starts again and consumes what comes next.

Before, arq's worker loop ended at the first Redis error while the Stats process went on
answering, so nothing consumed the queue again (found by the fault campaign). The test runs
its own redis-server (the devstack's binary) so that it can kill it without disturbing others.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_fixed

from services.shared.stats import PROCESS_BATCH_JOB, STATS_QUEUE, IssueBatch, IssuedUrl
from tests.utils.drive import free_port
from tests.utils.services import ServiceProcess

pytestmark = pytest.mark.integration


class Redis:
    """A throwaway redis-server on a free port, without persistence."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""],
            cwd=self.folder,
            stdout=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


async def _metric(url: str, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{url}/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_the_worker_consumes_again_after_redis_comes_back(
    redis: Redis, tmp_path: Path
) -> None:
    env = {
        "FILESERVER_STATS_REDIS_URL": redis.url,
        "FILESERVER_STATS_DOWNLOADER_URL": f"http://127.0.0.1:{free_port()}",  # nobody there
        "FILESERVER_STATS_DOWNLOADER_TOKEN": "outage-test-internal-0123456789",
    }
    stats = ServiceProcess("services.stats", env, tmp_path, prefix="FILESERVER_STATS_")
    try:
        await asyncio.to_thread(stats.start)
        redis.kill()
        await asyncio.sleep(1)  # the worker loses Redis
        redis.start()
        now = datetime.now(UTC)
        issued = IssuedUrl(
            id=uuid.uuid4(), file_id="f", account_id="a", bytes=1, day=now.date(), issued_at=now
        )
        batch = IssueBatch(batch_id=uuid.uuid4(), issued=(issued,))
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(30), wait=wait_fixed(0.2), retry=retry_if_exception_type(OSError)
        ):
            with attempt:
                queue = await create_pool(RedisSettings.from_dsn(redis.url))
        try:
            await queue.enqueue_job(
                PROCESS_BATCH_JOB, batch.model_dump(mode="json"), _queue_name=STATS_QUEUE
            )
        finally:
            await queue.aclose()
        # The job was taken: with no Downloader to post to, its delivery failed (and will retry).
        failed = 'fileserver_stats_batches_total{outcome="failed"}'
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.5),
            retry=retry_if_exception_type(AssertionError),
        ):
            with attempt:
                assert await _metric(stats.url, failed) >= 1
        assert await _metric(stats.url, "fileserver_stats_worker_restarts_total") >= 1
        async with httpx.AsyncClient() as http:
            health = await http.get(f"{stats.url}/healthz")
        assert health.json() == {"status": "ok"}
    finally:
        await asyncio.to_thread(stats.stop)
