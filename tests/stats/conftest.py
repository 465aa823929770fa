"""Stats tests run a Downloader too: they share its fixtures."""

from tests.downloader.conftest import any_db_settings, pg_settings, sqlite_settings

__all__ = ["any_db_settings", "pg_settings", "sqlite_settings"]
