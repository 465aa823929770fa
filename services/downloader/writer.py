"""The hot path's writes — group commits and lease grants — run as one synchronous transaction.

Each write is one call, ``await writer.run(fn)``, where ``fn`` is one of the repository's lease
and group-commit transactions: plain synchronous SQLAlchemy Core on a ``Connection``.

**SQLite** runs it inline, on the event loop's thread, with ``BEGIN IMMEDIATE`` and no busy
wait: a transaction of the hot path takes tens to hundreds of microseconds, less than handing it
to another thread. When the write lock is held (by another Downloader process on the same file,
or by this process's aiosqlite sessions applying events or statistics), the ``BEGIN`` fails at
once; the call tries again a few times over about 8 ms, the event loop serving requests in
between, and only then goes to the writer thread, whose own connection waits for the lock (busy
timeout): the event loop never waits for a lock. Before, every write went to that thread, and
the thread cost 200–300 µs of CPU per request at 1 000 requests/s (measured in process): the
``sqlite3`` driver gives the GIL up around each statement and row, and each time the thread had
to win it back from the busy event loop. With two processes on one file, 18 % of the
transactions met the other's lock; retried inline, none reached the thread (measured).

**PostgreSQL** has no synchronous driver installed, so every call goes to the writer thread,
which runs its own event loop with an asyncpg engine and runs the same functions through
``run_sync``; that loop serves nothing else, so its turns are immediate.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from services.downloader import metrics
from services.downloader.config import Settings
from services.downloader.db import sqlite_pragmas

T = TypeVar("T")

INLINE_RETRY_PAUSES = (0.0002, 0.0005, 0.001, 0.002, 0.004)
"""Seconds to wait before each new inline attempt on a held lock: another Downloader process's
group commit holds it for a fraction of a millisecond, and a transaction handed to the thread
costs far more CPU than a few attempts (the GIL goes back and forth at every statement)."""

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (Python's default: 0.005)."""


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # transactions are begun explicitly, below


def _sqlite_connect_nowait(dbapi_connection: Any, record: Any) -> None:
    _sqlite_connect(dbapi_connection, record)
    dbapi_connection.execute("PRAGMA busy_timeout=0")  # a held lock fails BEGIN at once
    # No checkpoint after a commit: copying the WAL into the database and its fsync would stall
    # the event loop (``checkpoint`` does it from the thread).
    dbapi_connection.execute("PRAGMA wal_autocheckpoint=0")


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_engine(url: str, on_connect: Callable[[Any, Any], None]) -> Engine:
    """One ``sqlite3`` connection (StaticPool), explicit ``BEGIN IMMEDIATE`` transactions."""
    engine = create_engine(
        url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1),
        poolclass=StaticPool,
        connect_args={"check_same_thread": False},
    )
    event.listen(engine, "connect", on_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _locked(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


class Writer:
    """Runs write transactions inline (SQLite, lock free) or in a thread owning a connection."""

    def __init__(self, settings: Settings) -> None:
        url = settings.sqlalchemy_url
        self._inline: Engine | None = None
        self._inline_conn: Connection | None = None
        self._sync: Engine | None = None
        self._conn: Connection | None = None
        self._async: AsyncEngine | None = None
        self._loop = asyncio.new_event_loop()
        if url.startswith("sqlite"):
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            self._inline = _sqlite_engine(url, _sqlite_connect_nowait)
            self._sync = _sqlite_engine(url, _sqlite_connect)
        else:
            self._async = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="downloader-writer", daemon=True
        )

    def start(self) -> None:
        """Start the thread."""
        # The thread releases the GIL at every SQLite call and must get it back to go on; with
        # the default 5 ms switch interval a busy event loop makes it wait that long each time,
        # and a group commit of a few statements took tens of milliseconds (measured).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()

    async def stop(self) -> None:
        """Close the connections and end the thread (after the calls already handed over)."""
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None
        if self._inline is not None:
            self._inline.dispose()
        if not self._thread.is_alive():
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._dispose(), self._loop))
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._loop.close()

    async def _dispose(self) -> None:
        if self._conn is not None:
            self._conn.close()
        if self._sync is not None:
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()

    async def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the SQLite database file, in the writer thread.

        The inline connection never checkpoints (see ``wal_autocheckpoint`` above), so the
        runtime calls this every maintenance round; ``PASSIVE`` waits for no one. No-op on
        PostgreSQL.
        """
        if self._sync is not None:
            await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self._checkpoint(), self._loop)
            )

    async def _checkpoint(self) -> None:
        assert self._sync is not None
        if self._conn is None:
            self._conn = self._sync.connect()
        # On the driver's connection: outside a transaction, as a checkpoint must run.
        self._conn.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction (committed unless it raises): inline when SQLite's
        write lock is free or frees within a few milliseconds, otherwise in the writer thread."""
        if self._inline is not None:
            if self._inline_conn is None:
                self._inline_conn = self._inline.connect()
            for pause in (*INLINE_RETRY_PAUSES, None):
                try:
                    transaction = self._inline_conn.begin()
                except OperationalError as exc:
                    if not _locked(exc):
                        raise
                    if pause is not None:
                        await asyncio.sleep(pause)  # the loop serves requests meanwhile
                else:
                    with transaction:
                        return fn(self._inline_conn)
            metrics.WRITES_HANDED_OFF.inc()
        done: Future[T] = asyncio.run_coroutine_threadsafe(self._transaction(fn), self._loop)
        return await asyncio.wrap_future(done)

    async def _transaction(self, fn: Callable[[Connection], T]) -> T:
        if self._sync is not None:
            # One connection kept for the thread's life: a pool check-in resets it each time.
            if self._conn is None:
                self._conn = self._sync.connect()
            with self._conn.begin():
                return fn(self._conn)
        assert self._async is not None
        async with self._async.begin() as aconn:
            return await aconn.run_sync(fn)
