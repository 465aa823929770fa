"""Alembic migrations: they build exactly the models' schema, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import services.downloader.models  # noqa: F401
from services.downloader.config import Settings
from services.downloader.db import alembic_config, migrate

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
