"""Redis from the devstack: an arq job enqueued, executed by a real worker, its result read."""

from __future__ import annotations

from typing import Any

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker

pytestmark = pytest.mark.integration


async def multiply(ctx: dict[str, Any], a: int, b: int) -> int:
    return a * b


async def test_arq_job_runs_on_worker(redis_url: str) -> None:
    settings = RedisSettings.from_dsn(redis_url)
    pool = await create_pool(settings)
    job = await pool.enqueue_job("multiply", 6, 7)
    assert job is not None
    worker = Worker(
        functions=[multiply],
        redis_settings=settings,
        burst=True,
        poll_delay=0.05,
        handle_signals=False,
    )
    await worker.main()
    assert await job.result(timeout=5) == 42
    assert worker.jobs_complete == 1
    await worker.close()
    await pool.aclose(close_connection_pool=True)
