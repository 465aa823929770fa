"""Alembic migrations: they build exactly the models' schema, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from urllib.parse import urlsplit, urlunsplit

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import services.downloader.models  # noqa: F401
from services.downloader.config import Settings
from services.downloader.db import alembic_config, migrate, wait_for_database
from tests.utils.drive import free_port

pytestmark = pytest.mark.integration


async def test_migrations_match_the_models_and_downgrade(any_db_settings: Settings) -> None:
    await asyncio.to_thread(migrate, any_db_settings)
    await asyncio.to_thread(migrate, any_db_settings)  # a second run is a no-op
    engine = create_async_engine(any_db_settings.sqlalchemy_url)
    async with engine.connect() as conn:

        def diff(sync_conn):
            context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
            return compare_metadata(context, SQLModel.metadata)

        assert await conn.run_sync(diff) == []
    await asyncio.to_thread(command.downgrade, alembic_config(any_db_settings), "base")
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert tables <= {"alembic_version"}


class LateForwarder:
    """A TCP port that refuses connections until ``open()``, then forwards them to ``target``:
    a database that comes up after the Downloader started."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.accepted = 0
        self._server: socket.socket | None = None

    def open(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            self.accepted += 1
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        source.close()  # each socket is closed by the pipe that reads it

    def close(self) -> None:
        if self._server:
            self._server.close()


def test_startup_waits_for_a_database_that_comes_up_late(pg_settings: Settings) -> None:
    dsn = urlsplit(pg_settings.database_url)
    late = LateForwarder((dsn.hostname or "127.0.0.1", dsn.port or 5432))
    moved = dsn._replace(netloc=dsn.netloc.replace(f":{dsn.port}", f":{late.port}"))
    settings = pg_settings.model_copy(
        update={"database_url": urlunsplit(moved), "database_wait_seconds": 60.0}
    )
    timer = threading.Timer(1.5, late.open)
    timer.start()
    try:
        wait_for_database(settings)  # refused at first: it retried until the port opened
        assert late.accepted >= 1
        migrate(settings)  # and the schema is then built through the late port
    finally:
        timer.cancel()
        late.close()


def test_startup_gives_up_on_a_database_that_never_answers(pg_settings: Settings) -> None:
    dsn = urlsplit(pg_settings.database_url)
    closed = dsn._replace(netloc=dsn.netloc.replace(f":{dsn.port}", f":{free_port()}"))
    settings = pg_settings.model_copy(
        update={"database_url": urlunsplit(closed), "database_wait_seconds": 1.0}
    )
    with pytest.raises(OSError, match=r"Connect call failed|refused"):
        wait_for_database(settings)


def test_startup_fails_at_once_on_a_refused_password(
    pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Waiting cannot mend a wrong credential: the error comes at once, without a retry."""
    dsn = urlsplit(pg_settings.database_url)
    wrong = dsn._replace(netloc=f"{dsn.username}:not-the-password@{dsn.hostname}:{dsn.port}")
    settings = pg_settings.model_copy(
        update={"database_url": urlunsplit(wrong), "database_wait_seconds": 600.0}
    )
    with pytest.raises(DBAPIError, match="password authentication failed") as raised:
        wait_for_database(settings)
    assert raised.value.orig.sqlstate == "28P01"  # type: ignore[union-attr]
    assert "retrying" not in caplog.text
