"""Downloader test fixtures: settings on an embedded SQLite database or a fresh PostgreSQL one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.downloader.config import Settings
from tests.utils.downloader import downloader_settings, sqlite_url
from tests.utils.drive import Emulator


@pytest.fixture
def sqlite_settings(tmp_path: Path, redis_url: str) -> Settings:
    return downloader_settings(sqlite_url(tmp_path), redis_url, tmp_path)


@pytest.fixture
def pg_settings(tmp_path: Path, pg_dsn: str, redis_url: str) -> Settings:
    return downloader_settings(pg_dsn, redis_url, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db_settings(request: pytest.FixtureRequest, tmp_path: Path, redis_url: str) -> Settings:
    """The same test on both databases the Downloader supports."""
    if request.param == "sqlite":
        return downloader_settings(sqlite_url(tmp_path), redis_url, tmp_path)
    dsn: str = request.getfixturevalue("pg_dsn")
    return downloader_settings(dsn, redis_url, tmp_path)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    """A Drive emulator of the test's own, for Downloader processes whose URLs are fetched."""
    emu = Emulator(tmp_path / "emulator")
    emu.data_dir.mkdir()
    emu.start()
    yield emu
    emu.stop()
