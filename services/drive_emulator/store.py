"""The emulator's durable state: SQLite for records, plain files for content.

Everything a restart must keep lives here: accounts and the hashes of their secrets, access
tokens (hashed), files, upload sessions (the bytes received so far are the session's part file,
so an upload resumes across a restart), the daily ledgers, file locks and the emulated clock.
Secrets are stored only as SHA-256 hashes; a leaked database issues no tokens.

Content is immutable once a file exists, so a copy is a hard link: a 1 GB file copied to ten
accounts takes 1 GB of disk while each account is charged its full size, as in Drive.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    kind TEXT NOT NULL, client_id TEXT UNIQUE, secret_hash TEXT, refresh_hash TEXT,
    key_id TEXT, public_key TEXT, token_uri TEXT, limits TEXT NOT NULL DEFAULT '{}',
    revoked INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, account_id TEXT NOT NULL, expires_at REAL);
CREATE TABLE IF NOT EXISTS files (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, mime_type TEXT NOT NULL,
    size INTEGER NOT NULL, md5 TEXT NOT NULL, parents TEXT NOT NULL,
    anyone_reader INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, modified_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS files_by_account ON files (account_id, created_at, id);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, account_id TEXT NOT NULL, metadata TEXT NOT NULL, size INTEGER,
    mime_type TEXT NOT NULL, fields TEXT, file_id TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    day TEXT NOT NULL, account_id TEXT NOT NULL, downloaded INTEGER NOT NULL DEFAULT 0,
    uploaded INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (day, account_id));
CREATE TABLE IF NOT EXISTS file_ledger (
    day TEXT NOT NULL, file_id TEXT NOT NULL, downloaded INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, file_id));
CREATE TABLE IF NOT EXISTS file_locks (file_id TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Account:
    """An emulated Google account and how it authenticates."""

    id: str
    email: str
    display_name: str
    kind: str
    client_id: str | None
    secret_hash: str | None
    refresh_hash: str | None
    key_id: str | None
    public_key: str | None
    token_uri: str | None
    limits: dict[str, int]
    revoked: bool
    created_at: str


@dataclass(frozen=True)
class FileRecord:
    """A stored file; its bytes are ``blobs/<id>``."""

    id: str
    account_id: str
    name: str
    mime_type: str
    size: int
    md5: str
    parents: list[str]
    anyone_reader: bool
    created_at: str
    modified_at: str


@dataclass(frozen=True)
class UploadSession:
    """A resumable upload; its bytes so far are ``uploads/<id>``, ``file_id`` once complete."""

    id: str
    account_id: str
    metadata: dict[str, Any]
    size: int | None
    mime_type: str
    fields: str | None
    file_id: str | None
    created_at: str


def _place(content: Path, target: Path, link: bool) -> None:
    if not link:
        content.replace(target)
        return
    try:
        os.link(content, target)
    except OSError:
        shutil.copyfile(content, target)


def _account(row: aiosqlite.Row) -> Account:
    values = dict(row)
    values["limits"] = json.loads(values["limits"])
    values["revoked"] = bool(values["revoked"])
    return Account(**values)


def _file(row: aiosqlite.Row) -> FileRecord:
    values = dict(row)
    values["parents"] = json.loads(values["parents"])
    values["anyone_reader"] = bool(values["anyone_reader"])
    return FileRecord(**values)


def _upload(row: aiosqlite.Row) -> UploadSession:
    values = dict(row)
    values["metadata"] = json.loads(values["metadata"])
    return UploadSession(**values)


class Store:
    """Records in ``emulator.db`` and content under ``blobs/`` and ``uploads/``."""

    def __init__(self, data_dir: Path, db: aiosqlite.Connection) -> None:
        self.data_dir = data_dir
        self.blobs = data_dir / "blobs"
        self.uploads = data_dir / "uploads"
        self._db = db

    @classmethod
    async def open(cls, data_dir: Path) -> Store:
        for folder in (data_dir, data_dir / "blobs", data_dir / "uploads"):
            folder.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(data_dir / "emulator.db")
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.executescript(SCHEMA)
        await db.commit()
        return cls(data_dir, db)

    async def close(self) -> None:
        await self._db.close()

    async def _one(self, sql: str, *args: Any) -> aiosqlite.Row | None:
        async with self._db.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, *args: Any) -> list[aiosqlite.Row]:
        async with self._db.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def _write(self, sql: str, *args: Any) -> None:
        await self._db.execute(sql, args)
        await self._db.commit()

    # Accounts and tokens ----------------------------------------------------------------------

    async def add_account(self, account: Account) -> None:
        values = {**account.__dict__, "limits": json.dumps(account.limits)}
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        await self._write(f"INSERT INTO accounts ({columns}) VALUES ({marks})", *values.values())  # noqa: S608

    async def account(self, account_id: str) -> Account | None:
        row = await self._one("SELECT * FROM accounts WHERE id = ?", account_id)
        return _account(row) if row else None

    async def account_by(self, column: str, value: str) -> Account | None:
        if column not in {"client_id", "email"}:
            raise ValueError(column)
        row = await self._one(f"SELECT * FROM accounts WHERE {column} = ?", value)  # noqa: S608
        return _account(row) if row else None

    async def accounts(self) -> list[Account]:
        return [_account(r) for r in await self._all("SELECT * FROM accounts ORDER BY created_at")]

    async def set_limits(self, account_id: str, limits: dict[str, int]) -> None:
        await self._write(
            "UPDATE accounts SET limits = ? WHERE id = ?", json.dumps(limits), account_id
        )

    async def revoke(self, account_id: str) -> None:
        await self._db.execute("UPDATE accounts SET revoked = 1 WHERE id = ?", (account_id,))
        await self._write("DELETE FROM tokens WHERE account_id = ?", account_id)

    async def add_token(self, token_hash: str, account_id: str, expires_at: float | None) -> None:
        await self._write(
            "INSERT INTO tokens (hash, account_id, expires_at) VALUES (?, ?, ?)",
            token_hash,
            account_id,
            expires_at,
        )

    async def token(self, token_hash: str) -> tuple[str, float | None] | None:
        row = await self._one(
            "SELECT account_id, expires_at FROM tokens WHERE hash = ?", token_hash
        )
        return (row["account_id"], row["expires_at"]) if row else None

    # Files ------------------------------------------------------------------------------------

    def blob(self, file_id: str) -> Path:
        return self.blobs / file_id

    async def add_file(self, record: FileRecord, content: Path, *, link: bool) -> None:
        """Record a file whose bytes are ``content`` (moved, or hard-linked for a copy)."""
        await anyio.to_thread.run_sync(_place, content, self.blob(record.id), link)
        values = {
            **record.__dict__,
            "parents": json.dumps(record.parents),
            "anyone_reader": int(record.anyone_reader),
        }
        columns = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        await self._write(f"INSERT INTO files ({columns}) VALUES ({marks})", *values.values())  # noqa: S608

    async def file(self, file_id: str) -> FileRecord | None:
        row = await self._one("SELECT * FROM files WHERE id = ?", file_id)
        return _file(row) if row else None

    async def files(self, account_id: str) -> list[FileRecord]:
        """Every file of the account, oldest first."""
        rows = await self._all(
            "SELECT * FROM files WHERE account_id = ? ORDER BY created_at, id", account_id
        )
        return [_file(r) for r in rows]

    async def share(self, file_id: str) -> None:
        await self._write("UPDATE files SET anyone_reader = 1 WHERE id = ?", file_id)

    async def delete_file(self, file_id: str) -> None:
        await self._write("DELETE FROM files WHERE id = ?", file_id)
        await anyio.to_thread.run_sync(partial(self.blob(file_id).unlink, missing_ok=True))

    async def stored_bytes(self, account_id: str) -> int:
        row = await self._one(
            "SELECT COALESCE(SUM(size), 0) AS used FROM files WHERE account_id = ?", account_id
        )
        return int(row["used"]) if row else 0

    # Upload sessions --------------------------------------------------------------------------

    def part(self, upload_id: str) -> Path:
        return self.uploads / upload_id

    async def add_upload(self, session: UploadSession) -> None:
        self.part(session.id).touch()
        await self._write(
            "INSERT INTO uploads (id, account_id, metadata, size, mime_type, fields, file_id, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            session.id,
            session.account_id,
            json.dumps(session.metadata),
            session.size,
            session.mime_type,
            session.fields,
            session.file_id,
            session.created_at,
        )

    async def upload(self, upload_id: str) -> UploadSession | None:
        row = await self._one("SELECT * FROM uploads WHERE id = ?", upload_id)
        return _upload(row) if row else None

    async def complete_upload(self, upload_id: str, file_id: str) -> None:
        await self._write("UPDATE uploads SET file_id = ? WHERE id = ?", file_id, upload_id)

    async def drop_upload(self, upload_id: str) -> None:
        await self._write("DELETE FROM uploads WHERE id = ?", upload_id)
        await anyio.to_thread.run_sync(partial(self.part(upload_id).unlink, missing_ok=True))

    # Ledgers, locks and the clock -------------------------------------------------------------

    async def usage(self, day: str, account_id: str) -> tuple[int, int]:
        """Bytes downloaded and uploaded by the account on ``day``."""
        row = await self._one(
            "SELECT downloaded, uploaded FROM ledger WHERE day = ? AND account_id = ?",
            day,
            account_id,
        )
        return (int(row["downloaded"]), int(row["uploaded"])) if row else (0, 0)

    async def file_downloaded(self, day: str, file_id: str) -> int:
        row = await self._one(
            "SELECT downloaded FROM file_ledger WHERE day = ? AND file_id = ?", day, file_id
        )
        return int(row["downloaded"]) if row else 0

    async def charge(
        self,
        day: str,
        account_id: str,
        *,
        downloaded: int = 0,
        uploaded: int = 0,
        file_id: str | None = None,
    ) -> None:
        """Add to (or, with negative amounts, refund from) the day's ledgers."""
        await self._db.execute(
            "INSERT INTO ledger (day, account_id, downloaded, uploaded) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (day, account_id) DO UPDATE SET downloaded = downloaded + excluded."
            "downloaded, uploaded = uploaded + excluded.uploaded",
            (day, account_id, downloaded, uploaded),
        )
        if file_id is not None and downloaded:
            await self._db.execute(
                "INSERT INTO file_ledger (day, file_id, downloaded) VALUES (?, ?, ?) "
                "ON CONFLICT (day, file_id) DO UPDATE SET downloaded = downloaded + "
                "excluded.downloaded",
                (day, file_id, downloaded),
            )
        await self._db.commit()

    async def lock_file(self, file_id: str, until: float) -> None:
        await self._write(
            "INSERT INTO file_locks (file_id, until) VALUES (?, ?) "
            "ON CONFLICT (file_id) DO UPDATE SET until = excluded.until",
            file_id,
            until,
        )

    async def file_locked_until(self, file_id: str) -> float | None:
        row = await self._one("SELECT until FROM file_locks WHERE file_id = ?", file_id)
        return float(row["until"]) if row else None

    async def get_state(self, key: str) -> str | None:
        row = await self._one("SELECT value FROM state WHERE key = ?", key)
        return str(row["value"]) if row else None

    async def set_state(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            key,
            value,
        )
