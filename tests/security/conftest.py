"""The security tests use the fuzzing package's apps and the Uploader tests' fixtures."""

from tests.fuzz.conftest import (
    any_db_settings,
    any_downloader,
    drive,
    drive_emulator,
    emulator_admin,
    emulator_app,
    pg_settings,
    settings,
    sqlite_settings,
    stats_app,
    uploader,
)
from tests.uploader.conftest import downloader, register_accounts, worker

__all__ = [
    "any_db_settings",
    "any_downloader",
    "downloader",
    "drive",
    "drive_emulator",
    "emulator_admin",
    "emulator_app",
    "pg_settings",
    "register_accounts",
    "settings",
    "sqlite_settings",
    "stats_app",
    "uploader",
    "worker",
]
