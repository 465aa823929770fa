"""An arq worker that outlives Redis outages.

arq's worker loop ends at the first Redis error, and a worker that runs as a task inside an API
process (Stats) then stays dead while the process goes on answering: its queue is never
consumed again and every statistic after the outage is lost (found by the fault campaign,
docs/reliability.md). :func:`supervise` makes a fresh worker and runs it again, with growing
pauses, until it is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from arq import Worker
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


async def supervise(
    make_worker: Callable[[], Worker],
    *,
    first_pause: float = 0.5,
    max_pause: float = 30.0,
    on_restart: Callable[[], None] | None = None,
) -> None:
    """Run workers from ``make_worker`` one after the other, forever; only Redis and network
    errors restart one (anything else is a bug and ends the task, which health checks see)."""
    pause = first_pause
    while True:
        worker = make_worker()
        try:
            await worker.async_run()
            pause = first_pause  # it ran until it ended by itself (burst): start over promptly
        except (RedisError, OSError) as exc:
            log.warning("queue worker stopped (%s); starting a new one in %.1f s", exc, pause)
            if on_restart is not None:
                on_restart()
            await asyncio.sleep(pause)
            pause = min(max_pause, pause * 2)
        finally:
            await _close(worker)


async def _close(worker: Worker) -> None:
    try:
        await worker.close()
    except (RedisError, OSError):
        # Redis is away: close() could not remove its health-check key and stopped there;
        # release what it would have released after it.
        if worker.on_shutdown is not None:
            await worker.on_shutdown(worker.ctx)
        with contextlib.suppress(RedisError, OSError):
            await worker.pool.close(close_connection_pool=True)
