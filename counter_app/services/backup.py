"""Backups of a counter's SQLite file, safe while the counter runs, and checked restores.

`backup` copies the live database with SQLite's online backup API (a consistent snapshot even while
other connections write) into a folder that should sit on another disk or a share, and keeps the
newest `keep` files. `restore` refuses while any counter has the database open (`in_use`), checks
the backup's audit chain and that every balance equals its ledger before touching anything, keeps
the current file beside it, and then copies the backup in. PostgreSQL is backed up by the
hospital's own means (pg_dump or replication; README, "Install on a counter PC").
"""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import portalocker
from sqlalchemy import func, select

from ..store import audit
from ..store.db import Database, DatabaseError, newest_revision, sqlite_url
from ..store.models import Account
from .ledger import mismatched_accounts

PATTERN = "counter-*.sqlite3"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    path: Path
    revision: str | None
    audit_entries: int
    accounts: int
    problems: tuple[str, ...]


def _sqlite_path(db: Database) -> Path:
    if not db.is_sqlite or not db.url.database or db.url.database == ":memory:":
        raise DatabaseError(
            f"{db.describe()} is not a SQLite file: back up PostgreSQL with pg_dump or "
            "the hospital's replication"
        )
    return Path(db.url.database)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".inuse")


def hold(db: Database) -> IO[str] | None:
    """Mark the database as open by this process until the returned file is closed (or the process
    ends, however it ends: the lock is the operating system's). PostgreSQL: nothing to mark."""
    if not db.is_sqlite:
        return None
    handle = open(_lock_path(_sqlite_path(db)), "a")  # noqa: SIM115 - held for the process's life
    portalocker.lock(handle, portalocker.LockFlags.SHARED)
    return handle


def in_use(path: Path) -> bool:
    """Whether some process holds the database open (`hold`)."""
    lock = _lock_path(path)
    if not lock.exists():
        return False
    with open(lock, "a") as handle:
        try:
            portalocker.lock(handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING)
        except portalocker.exceptions.LockException:
            return True
        portalocker.unlock(handle)
    return False


def backup(db: Database, folder: Path, keep: int, *, now: dt.datetime | None = None, why: str = "") -> Path:
    """A consistent copy of the live database in `folder`, named by time (and why: shift, day,
    timer, hand); the oldest beyond `keep` are removed. Written under a temporary name first, so a
    crash never leaves a half backup that looks whole."""
    source = _sqlite_path(db)
    folder.mkdir(parents=True, exist_ok=True)
    at = now or dt.datetime.now()
    target = folder / f"counter-{at:%Y%m%d-%H%M%S-%f}{'-' + why if why else ''}.sqlite3"
    partial = target.with_name(target.name + ".partial")
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    partial.replace(target)
    for old in sorted(folder.glob(PATTERN))[:-keep]:
        old.unlink()
    return target


@dataclass(frozen=True)
class Schedule:
    """A counter's automatic backups (settings: backup_dir, backup_keep, backup_every_minutes): at
    every shift close and day close, and every `every_minutes` while it runs (0: not on a timer)."""

    db: Database
    folder: Path
    keep: int
    every_minutes: int

    def take(self, why: str) -> str:
        """Back up now; a line for the status bar either way (a failed backup never stops the close
        it follows: the cashier is told, and the next one tries again)."""
        try:
            path = backup(self.db, self.folder, self.keep, why=why)
        except (OSError, sqlite3.Error, DatabaseError) as exc:
            log.error("backup (%s) to %s failed: %s", why, self.folder, exc)
            return f"备份失败（{self.folder}）：{exc}"
        log.info("backup (%s): %s", why, path)
        return f"已备份到 {path}"


def check(path: Path) -> Checked:
    """What a restore would bring back: its schema, and every break in its audit chain or ledgers."""
    if not path.is_file():
        raise DatabaseError(f"no backup file at {path}")
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            conn.execute("PRAGMA schema_version").fetchone()  # raises on a file that is not SQLite
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path} is not a SQLite database ({exc})") from None
    db = Database(sqlite_url(path), migrate=False, create=False)
    try:
        problems: list[str] = []
        revision = db._stored_revision()
        if revision != newest_revision():
            problems.append(
                f"schema revision {revision}, this version of the application needs {newest_revision()}"
            )
        with db.sessions() as session:
            problems += [f"audit: {p.what}" for p in audit.verify(session)]
            problems += [
                f"account {i}: balance {cached} but ledger {total}"
                for i, cached, total in mismatched_accounts(session)
            ]
            entries = (audit.head(session) or (0, ""))[0]
            accounts = session.execute(select(func.count()).select_from(Account)).scalar_one()
    finally:
        db.dispose()
    return Checked(path, revision, entries, accounts, tuple(problems))


def restore(backup_file: Path, db_url: str, *, now: dt.datetime | None = None) -> tuple[Checked, Path | None]:
    """Replace the database at `db_url` with `backup_file` once it checks out; returns the check
    and where the replaced file was kept (None if there was none). Refused, with nothing changed,
    while a counter has the database open or when the backup has any problem."""
    target_db = Database(db_url, migrate=False)
    target = _sqlite_path(target_db)
    target_db.dispose()
    if in_use(target):
        raise DatabaseError(
            f"{target} is open in a running counter: close every counter (and `sync`) using it, then restore"
        )
    checked = check(backup_file)
    if checked.problems:
        raise DatabaseError(
            f"{backup_file} does not check out; nothing was restored:\n  "
            + "\n  ".join(checked.problems[:20])
        )
    kept = None
    at = now or dt.datetime.now()
    if target.exists():
        kept = target.with_name(f"{target.name}.before-restore-{at:%Y%m%d-%H%M%S}")
        with closing(sqlite3.connect(target)) as src, closing(sqlite3.connect(kept)) as dst:
            src.backup(dst)  # the current data, kept whole (its WAL included)
    with closing(sqlite3.connect(backup_file)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    log.warning(
        "restored %s over %s (%d audit entries checked); the replaced file is kept as %s",
        backup_file,
        target,
        checked.audit_entries,
        kept,
    )
    return checked, kept
