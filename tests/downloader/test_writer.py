"""The writer on SQLite: transactions inline while the write lock is free; when another
connection holds it, the transaction waits in the writer thread and the event loop runs on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from sqlalchemy.engine import Connection

from services.downloader import metrics
from services.downloader.config import Settings
from services.downloader.db import migrate
from services.downloader.writer import Writer

pytestmark = pytest.mark.integration


async def test_a_held_write_lock_sends_the_transaction_to_the_thread_not_the_loop(
    sqlite_settings: Settings,
) -> None:
    await asyncio.to_thread(migrate, sqlite_settings)
    writer = Writer(sqlite_settings)
    writer.start()
    ran_in: list[str] = []

    def count_leases(conn: Connection) -> int:
        ran_in.append(threading.current_thread().name)
        return int(conn.exec_driver_sql("SELECT count(*) FROM leases").scalar_one())

    other = sqlite3.connect(sqlite_settings.state_dir / "downloader.db", isolation_level=None)
    try:
        assert await writer.run(count_leases) == 0
        assert ran_in == [threading.current_thread().name]  # the lock was free: inline
        # Inline, a held lock must fail BEGIN at once, not after a wait on the loop's thread.
        busy_timeout = await writer.run(
            lambda conn: conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
        )
        assert busy_timeout == 0

        handed_off = metrics.WRITES_HANDED_OFF._value.get()
        other.execute("BEGIN IMMEDIATE")
        waiting = asyncio.create_task(writer.run(count_leases))
        for _ in range(20):  # the loop goes on turning while the transaction waits
            await asyncio.sleep(0.01)
        assert not waiting.done()
        other.execute("COMMIT")
        assert await asyncio.wait_for(waiting, timeout=30) == 0
        assert ran_in[1:] == ["downloader-writer"]
        assert metrics.WRITES_HANDED_OFF._value.get() == handed_off + 1

        ran_in.clear()
        await writer.run(count_leases)
        assert ran_in == [threading.current_thread().name]  # free again: inline again
    finally:
        other.close()
        await writer.stop()
