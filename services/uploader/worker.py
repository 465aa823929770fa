"""The Uploader's arq worker: replication, replica removal, draining, backfill, relay, sweeps.

Jobs are thin: they unpack the context and call :mod:`services.uploader.replication` or
:mod:`services.uploader.relay`. One process serves both queues (:class:`Workers`), each with
its own slots, so backfill never holds up a new file; clients are made once for both in
:func:`on_startup` and closed in :func:`on_shutdown`. Besides the jobs the API queues, two
cron jobs keep the system converging when a queued job was lost (worker killed, Redis
flushed): the relay every few seconds, and a sweep that reconciles every unfinished file and
account.

Run it with ``python -m services.uploader.worker`` (settings from the environment).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta
from typing import Any

import httpx
from arq import cron
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.worker import Function, Worker, func
from prometheus_client import start_http_server
from pymongo import AsyncMongoClient

from services.drive.config import DriveSettings
from services.drive.config import get_settings as get_drive_settings
from services.uploader import jobs as names
from services.uploader import relay, replication, repository
from services.uploader.config import Settings, get_settings
from services.uploader.jobs import Jobs
from services.uploader.locking import DocumentLocks
from services.uploader.metrics import QUEUE_DEPTH
from services.uploader.staging import Staging
from services.uploader.vault import Vault

log = logging.getLogger(__name__)

ORPHANS_AFTER = timedelta(hours=24)


async def on_startup(ctx: dict[str, Any]) -> None:
    """Make the clients the jobs share; a test may hand in its Mongo, HTTP or lock client."""
    settings: Settings = ctx.get("settings") or get_settings()
    drive: DriveSettings = ctx.get("drive_settings") or get_drive_settings()
    ctx["settings"] = settings
    owned: list[str] = ctx.setdefault("owned", [])
    if "mongo" not in ctx:
        ctx["mongo"] = AsyncMongoClient(settings.mongo_url, tz_aware=True)
        owned.append("mongo")
    if "http" not in ctx:
        ctx["http"] = httpx.AsyncClient(
            base_url=settings.downloader_url, timeout=settings.relay_timeout_seconds
        )
        owned.append("http")
    database = ctx["mongo"][settings.mongo_db]
    locks = ctx.get("locks") or DocumentLocks(ctx["redis"])
    await repository.init(database, locks)
    staging = Staging(database, chunk_bytes=settings.chunk_bytes)
    await staging.ensure_indexes()
    jobs = Jobs(ctx["redis"], queue_name=settings.queue_name)
    ctx["jobs"] = jobs
    ctx["replicator"] = replication.Replicator(
        settings=settings,
        drive=drive,
        vault=Vault(settings.credentials_key.get_secret_value()),
        staging=staging,
        jobs=jobs,
    )
    if settings.worker_metrics_port and not ctx.get("metrics_started"):
        start_http_server(settings.worker_metrics_port, addr=settings.host)
        ctx["metrics_started"] = True


async def on_shutdown(ctx: dict[str, Any]) -> None:
    """Close what :func:`on_startup` made."""
    if "replicator" in ctx:
        await ctx["replicator"].close()
    owned = ctx.get("owned", [])
    if "http" in owned:
        await ctx["http"].aclose()
    if "mongo" in owned:
        await ctx["mongo"].close()
    owned.clear()


async def reconcile_file(ctx: dict[str, Any], file_id: str) -> None:
    """Bring one file's replicas and status in line with its placement."""
    await replication.reconcile(ctx["replicator"], file_id)


async def replicate(ctx: dict[str, Any], file_id: str, account_id: str) -> None:
    """Make one replica (upload from GridFS or server-side copy)."""
    await replication.replicate(ctx["replicator"], file_id, account_id)


async def remove_replica(ctx: dict[str, Any], file_id: str, account_id: str) -> None:
    """Delete one replica from Drive, after the Downloader stopped handing it out."""
    await replication.remove_replica(ctx["replicator"], file_id, account_id)


async def drain_account(ctx: dict[str, Any], account_id: str) -> None:
    """Take a deleted account's replicas away, then the account itself."""
    await replication.drain_account(ctx["replicator"], account_id)


async def backfill_account(ctx: dict[str, Any], account_id: str) -> None:
    """Give a new, re-enabled or re-credentialed account the files placement puts on it."""
    await replication.backfill_account(ctx["replicator"], account_id)


async def release_account(ctx: dict[str, Any], account_id: str) -> None:
    """Take a disabled account off the files that were still to get a replica on it."""
    await replication.release_account(ctx["replicator"], account_id)


async def relay_events(ctx: dict[str, Any]) -> int:
    """Deliver pending changes to the Downloader (it may be down: then the cron retries)."""
    settings: Settings = ctx["settings"]
    try:
        return await relay.relay_all(
            http=ctx["http"],
            token=settings.downloader_internal_token.get_secret_value(),
            jobs=ctx["jobs"],
            limit=settings.relay_batch_size,
        )
    except relay.DeliveryError as exc:
        log.warning("events not delivered, will retry: %s", exc)
        return 0


async def sweep(ctx: dict[str, Any]) -> None:
    """Resume whatever a lost job or a crash left unfinished; export the queue depth."""
    QUEUE_DEPTH.set(await ctx["jobs"].depth())
    await replication.sweep(ctx["replicator"], orphans_after=ORPHANS_AFTER)


def functions(settings: Settings) -> list[Function]:
    """The job functions; arq's retry count stays above the replication attempt budget.

    No job has its own timeout: arq lets a killed worker's job run again only after the
    longest timeout of all, so one setting (``job_timeout_seconds``) bounds that wait.
    """
    tries = settings.replication_max_attempts * 2 + 5
    return [
        func(reconcile_file, name=names.RECONCILE_FILE, max_tries=tries),
        func(replicate, name=names.REPLICATE, max_tries=tries),
        func(remove_replica, name=names.REMOVE_REPLICA, max_tries=tries),
        func(drain_account, name=names.DRAIN_ACCOUNT, max_tries=tries),
        func(backfill_account, name=names.BACKFILL_ACCOUNT, max_tries=tries),
        func(release_account, name=names.RELEASE_ACCOUNT, max_tries=tries),
        func(relay_events, name=names.RELAY_EVENTS, max_tries=3),
    ]


def make_worker(
    settings: Settings, *, ctx: dict[str, Any], background: bool = False, **options: Any
) -> Worker:
    """The arq worker of one of the Uploader's queues (see :mod:`services.uploader.jobs`).

    Its clients are made once for both by :class:`Workers` (``ctx``); the cron jobs run on
    the urgent queue's worker.
    """
    every = set(range(0, 60, settings.sweep_interval_seconds))
    crons = options.pop(
        "cron_jobs",
        [
            cron(relay_events, name="relay_cron", second=every, run_at_startup=True, unique=True),
            cron(sweep, name="sweep_cron", second=every, run_at_startup=True, unique=True),
        ],
    )
    defaults: dict[str, Any] = {
        "functions": functions(settings),
        "cron_jobs": [] if background else crons,
        "queue_name": names.background_queue(settings.queue_name)
        if background
        else settings.queue_name,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "max_jobs": settings.worker_background_jobs if background else settings.worker_max_jobs,
        "keep_result": 0,
        "job_timeout": settings.job_timeout_seconds,
        "handle_signals": False,  # Workers stops both
        "ctx": ctx,
    }
    defaults.update(options)
    return Worker(**defaults)


class Workers:
    """The worker process: one arq worker per queue in one event loop, sharing the clients.

    ``burst`` (tests) runs until both queues are empty: a job on one queue may queue work on
    the other, so the two workers run again until neither has anything left.
    """

    def __init__(self, settings: Settings | None = None, **options: Any) -> None:
        self.settings = settings or get_settings()
        self.ctx: dict[str, Any] = {"settings": self.settings, **options.pop("ctx", {})}
        self.burst = bool(options.get("burst"))
        self.workers = [
            make_worker(self.settings, ctx=self.ctx, **options),
            make_worker(self.settings, ctx=self.ctx, background=True, **options),
        ]
        self._pool: ArqRedis | None = None

    async def async_run(self) -> None:
        self._pool = await create_pool(RedisSettings.from_dsn(self.settings.redis_url))
        self.ctx["redis"] = self._pool
        await on_startup(self.ctx)
        jobs: Jobs = self.ctx["jobs"]
        while True:
            await asyncio.gather(*(worker.async_run() for worker in self.workers))
            if not self.burst or not any(await jobs.depths()):
                return

    def stop(self, signum: signal.Signals) -> None:
        """Cancel both workers' jobs and loops (arq retries the cancelled jobs later)."""
        for worker in self.workers:
            worker.handle_sig(signum)

    async def close(self) -> None:
        for worker in self.workers:
            await worker.close()
        await on_shutdown(self.ctx)
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None


async def _serve() -> None:
    workers = Workers()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, workers.stop, signum)
    try:
        await workers.async_run()
    except asyncio.CancelledError:
        log.info("worker stopped by a signal")
    finally:
        await workers.close()


def main() -> None:
    """Run the worker until a signal stops it."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve())


if __name__ == "__main__":
    main()
