"""The hot path's writes — group commits and lease grants — in one dedicated thread.

Run on the event loop that serves HTTP, every statement of a transaction waits for a loop turn,
and under load those turns, not the database, bound how often a batch is stored (about 25 ms
per group commit on SQLite, measured). Here each transaction is one call handed to a thread
that does nothing else: one loop turn to hand it over, one to collect the result.

The functions it runs are the repository's lease and group-commit transactions, plain
synchronous SQLAlchemy Core on a ``Connection``. On SQLite the thread
uses the standard ``sqlite3`` driver directly, with ``BEGIN IMMEDIATE`` so that a transaction
takes the write lock up front and waits (busy timeout) instead of failing when another process
writes. On PostgreSQL there is no synchronous driver installed, so the thread runs its own event
loop with an asyncpg engine and runs the same functions through ``run_sync``; that loop serves
nothing else, so its turns are immediate.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from services.downloader.config import Settings
from services.downloader.db import sqlite_pragmas

T = TypeVar("T")

SWITCH_INTERVAL = 0.0005
"""Seconds a thread may hold the GIL while another waits for it (Python's default: 0.005)."""


def _sqlite_connect(dbapi_connection: Any, record: Any) -> None:
    sqlite_pragmas(dbapi_connection, record)
    dbapi_connection.isolation_level = None  # transactions are begun explicitly, below


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Writer:
    """A thread owning the connection that stores issued URLs and grants leases."""

    def __init__(self, settings: Settings) -> None:
        url = settings.sqlalchemy_url
        self._sync: Engine | None = None
        self._conn: Connection | None = None
        self._async: AsyncEngine | None = None
        self._loop = asyncio.new_event_loop()
        if url.startswith("sqlite"):
            settings.state_dir.mkdir(parents=True, exist_ok=True)
            # One connection, used only by the writer thread.
            self._sync = create_engine(
                url.replace("sqlite+aiosqlite", "sqlite+pysqlite", 1),
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
            event.listen(self._sync, "connect", _sqlite_connect)
            event.listen(self._sync, "begin", _sqlite_begin)
        else:
            self._async = create_async_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True)
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="downloader-writer", daemon=True
        )

    def start(self) -> None:
        """Start the thread."""
        # The writer releases the GIL at every SQLite call and must get it back to go on; with
        # the default 5 ms switch interval a busy event loop makes it wait that long each time,
        # and a group commit of a few statements took tens of milliseconds (measured).
        sys.setswitchinterval(SWITCH_INTERVAL)
        self._thread.start()

    async def stop(self) -> None:
        """Close the connection and end the thread (after the calls already handed over)."""
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

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction in the writer thread (committed unless it raises)."""
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
