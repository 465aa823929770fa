"""Engine, sessions and schema migrations of the Downloader's database.

One code path for PostgreSQL (asyncpg) and SQLite (aiosqlite). SQLite gets WAL journaling and a
busy timeout on every connection: group commit keeps writers few, and WAL lets readers (reports,
catalog refreshes) proceed while a batch is being written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from services.downloader.config import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL, commits durable against a process crash (not a power loss), waits for the lock."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(settings: Settings) -> AsyncEngine:
    """An async engine for the configured database (creating the SQLite folder if needed)."""
    url = settings.sqlalchemy_url
    if url.startswith("sqlite"):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, pool_size=8, max_overflow=8)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(settings: Settings) -> Config:
    """Alembic's configuration, built in code: the package carries its migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return config


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (blocking; safe to run from several processes)."""
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.state_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(settings), revision)


async def migrate_async(settings: Settings) -> None:
    """:func:`migrate` without blocking the event loop (Alembic's env runs its own loop)."""
    await asyncio.to_thread(migrate, settings)


async def _ping(settings: Settings) -> None:
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


# SQLSTATEs of a server that is starting, stopping or full: it will answer later.
_TRANSIENT_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def _transient(exc: OSError | DBAPIError) -> bool:
    """Unreachable (refused, unresolved) or not accepting yet; not refused for a reason."""
    if isinstance(exc, OSError):
        return True
    code = getattr(exc.orig, "sqlstate", None) or ""
    return code.startswith("08") or code in _TRANSIENT_SQLSTATES


def wait_for_database(settings: Settings) -> None:
    """Return once the database answers; retry for ``database_wait_seconds``, then raise.

    On Kubernetes the database starts beside the Downloader (its name does not even resolve
    until its pod is ready) and may restart under it: waiting is the normal start, not a
    failure. The last error is raised when the wait runs out. Errors that waiting cannot mend
    (a wrong password, a missing database) are raised at once.
    """
    deadline = time.monotonic() + settings.database_wait_seconds
    pause = 0.5
    while True:
        try:
            asyncio.run(_ping(settings))
            return
        except (OSError, DBAPIError) as exc:
            if not _transient(exc) or time.monotonic() + pause > deadline:
                raise
            log.warning("database not reachable yet (%s); retrying in %.1fs", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
