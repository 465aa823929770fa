"""PostgreSQL from the devstack: a SQLModel table round trip through the async driver."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

pytestmark = pytest.mark.integration


class _TestModel(SQLModel, registry=registry()):
    """Tables of this test only: kept out of SQLModel's global metadata, which the
    Downloader's migrations compare against."""


class Widget(_TestModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    size: int


async def test_sqlmodel_round_trip(pg_dsn: str) -> None:
    engine = create_async_engine(pg_dsn.replace("postgresql://", "postgresql+asyncpg://"))
    async with engine.begin() as conn:
        await conn.run_sync(_TestModel.metadata.create_all)
    async with AsyncSession(engine) as session:
        session.add(Widget(name="a", size=3))
        session.add(Widget(name="b", size=5))
        await session.commit()
    async with AsyncSession(engine) as session:
        rows = (await session.exec(select(Widget).order_by(Widget.name))).all()
        assert [(w.name, w.size) for w in rows] == [("a", 3), ("b", 5)]
        version = (await session.exec(select(Widget).where(Widget.size > 4))).one()
        assert version.name == "b"
    await engine.dispose()
