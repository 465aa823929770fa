"""The Stats arq worker: one job per batch of issued URLs from the Downloader.

Jobs are plain functions; the Downloader client lives in the worker context. A batch that cannot
be delivered is retried with growing delays (``Retry(defer=...)``); a worker killed mid-job
leaves the job in the queue, and arq hands it to another worker once the job's in-progress
marker expires. Either way the Downloader applies the batch id once. Results are not kept
(``keep_result=0``) so that the Downloader's relay can queue a batch again under the same job id
if it was ever dropped.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
from arq import Retry, Worker, func
from arq.connections import RedisSettings

from services.shared.stats import PROCESS_BATCH_JOB, STATS_QUEUE, IssueBatch
from services.stats import metrics
from services.stats.client import DownloaderClient, DownloaderUnavailable
from services.stats.config import Settings
from services.stats.service import aggregate


async def process_issue_batch(ctx: dict[str, Any], payload: dict[str, Any]) -> bool:
    """Aggregate one batch and post it; ``True`` if it changed the counters."""
    batch = IssueBatch.model_validate(payload)
    now = datetime.now(UTC)
    metrics.LAG.set(max(0.0, (now - min(e.issued_at for e in batch.issued)).total_seconds()))
    increments = aggregate(batch)
    client: DownloaderClient = ctx["downloader"]
    try:
        result = await client.post_stats(increments)
    except DownloaderUnavailable as exc:
        metrics.BATCHES.labels("failed").inc()
        tries = int(ctx.get("job_try", 1))
        raise Retry(defer=min(30.0, 0.5 * 2 ** min(tries, 6))) from exc
    metrics.BATCHES.labels("applied" if result.applied else "duplicate").inc()
    if result.applied:
        metrics.EVENTS.inc(increments.events)
        metrics.BATCH_SIZE.observe(increments.events)
    oldest = await ctx["redis"].zrange(STATS_QUEUE, 0, 0, withscores=True)
    metrics.QUEUE_AGE.set(max(0.0, time.time() - oldest[0][1] / 1000) if oldest else 0.0)
    return result.applied


def make_worker(
    settings: Settings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **overrides: Any,
) -> Worker:
    """An arq worker consuming the stats queue (``transport``: tests talk to an ASGI app)."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        ctx["downloader"] = DownloaderClient(
            settings.downloader_url,
            settings.downloader_token,
            timeout=settings.http_timeout_seconds,
            transport=transport,
        )

    async def on_shutdown(ctx: dict[str, Any]) -> None:
        # Absent when the worker is stopped before its startup ran (a quick SIGTERM).
        downloader = ctx.pop("downloader", None)
        if downloader is not None:
            await downloader.aclose()

    options: dict[str, Any] = {
        "functions": [
            func(
                process_issue_batch,
                name=PROCESS_BATCH_JOB,
                timeout=settings.job_timeout_seconds,
                max_tries=settings.max_tries,
                keep_result=0,
            )
        ],
        "queue_name": STATS_QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "max_jobs": settings.max_jobs,
        "job_timeout": settings.job_timeout_seconds,
        "keep_result": 0,
        "handle_signals": False,
        "poll_delay": 0.1,
    }
    options.update(overrides)
    return Worker(**options)
