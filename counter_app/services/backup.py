"""Backups of a counter's SQLite file, safe while the counter runs, and checked restores.

`backup` copies the live database with SQLite's online backup API (a consistent snapshot even while
other connections write) into a folder that should sit on another disk or a share, with a record
beside it (its SHA-256, the database's identity and the audit head: a copy of the head kept outside
the database), and keeps the newest `keep` files. `restore` is a supervisor's, refused while any
counter, `sync` or batch holds the database (`in_use`); before touching anything it checks that
the backup is whole (its record's digest, SQLite's integrity check), is a counter database of this
schema, holds its audit chain and ledgers, and is this database's (identity, institution, the same
chain); an older one rolls back settlements, said in numbers and done only when approved. The
current file is kept beside it, and the restore is audited in the restored database. PostgreSQL
is backed up by the hospital's own means (pg_dump or replication; README, "Install on a counter PC").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import portalocker
from sqlalchemy import func, select

from ..store import audit
from ..store.db import Database, DatabaseError, newest_revision, sqlite_url
from ..store.models import Account
from .actor import Actor
from .audit import check_books, record

PATTERN = "counter-*.sqlite3"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checked:
    path: Path
    revision: str | None
    audit_entries: int
    accounts: int
    problems: tuple[str, ...]
    facts: Facts | None = None
    sha256: str = ""  # the digest its record gives (and the file has, when it checks out)


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


def record_path(backup_file: Path) -> Path:
    """The backup's record beside it: its digest and the audit head when it was taken."""
    return backup_file.with_name(backup_file.name + ".json")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def backup(db: Database, folder: Path, keep: int, *, now: dt.datetime | None = None, why: str = "") -> Path:
    """A consistent copy of the live database in `folder`, named by time (and why: shift, day,
    timer, hand), with its record (`record_path`: digest, identity, audit head, a copy of the head
    kept outside the database); the oldest beyond `keep` are removed. Written under a temporary
    name first, so a crash never leaves a half backup that looks whole."""
    source = _sqlite_path(db)
    folder.mkdir(parents=True, exist_ok=True)
    at = now or dt.datetime.now()
    target = folder / f"counter-{at:%Y%m%d-%H%M%S-%f}{'-' + why if why else ''}.sqlite3"
    partial = target.with_name(target.name + ".partial")
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    facts = _facts(partial)
    record = {
        "file": target.name,
        "sha256": _digest(partial),
        "bytes": partial.stat().st_size,
        "taken_at": at.isoformat(timespec="seconds"),
        "why": why,
        "identity": facts.identity,
        "revision": facts.revision,
        "audit_head": f"{facts.head[0]}:{facts.head[1]}" if facts.head else None,
        "settlements": facts.settlements,
    }
    record_partial = record_path(partial)
    record_partial.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    partial.replace(target)
    record_partial.replace(record_path(target))
    for old in sorted(folder.glob(PATTERN))[:-keep]:
        old.unlink()
        record_path(old).unlink(missing_ok=True)
    return target


@dataclass(frozen=True)
class Facts:
    """What a restore compares between a backup and the live database, read by plain SQL."""

    identity: str | None
    revision: str | None
    head: tuple[int, str] | None
    institutions: tuple[str, ...]
    settlements: int
    last_settlement: int
    last_settled_at: str | None


def _facts(path: Path) -> Facts:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:

        def one(sql: str, *args: object) -> Any:
            try:
                row = conn.execute(sql, args).fetchone()
            except sqlite3.Error:
                return None
            return row

        ident = one("SELECT identity FROM database_identity ORDER BY id LIMIT 1")
        revision = one("SELECT version_num FROM alembic_version")
        head = one("SELECT id, hash FROM audit_entry ORDER BY id DESC LIMIT 1")
        try:
            institutions = tuple(r[0] for r in conn.execute("SELECT code FROM institution ORDER BY code"))
        except sqlite3.Error:
            institutions = ()
        counted = one("SELECT count(*), coalesce(max(id), 0), max(settled_at) FROM settlement") or (
            0,
            0,
            None,
        )
    return Facts(
        ident[0] if ident else None,
        revision[0] if revision else None,
        (head[0], head[1]) if head else None,
        institutions,
        counted[0],
        counted[1],
        counted[2],
    )


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
    """What a restore would bring back, and everything wrong with it: not a whole SQLite file (its
    integrity check, its record's digest), not a counter database, another schema, a broken audit
    chain or a balance that is not its ledger. Reads only."""
    if not path.is_file():
        raise DatabaseError(f"no backup file at {path}")
    if path.stat().st_size == 0:
        raise DatabaseError(f"{path} is empty (0 bytes): not a backup")
    problems: list[str] = []
    record = record_path(path)
    try:
        kept = json.loads(record.read_text(encoding="utf-8"))
        if not isinstance(kept, dict):
            raise ValueError("not an object")
    except FileNotFoundError:
        problems.append(f"its record {record.name} is missing: nothing says the file is whole")
        kept = {}
    except ValueError as exc:
        problems.append(f"its record {record.name} is not readable JSON ({exc})")
        kept = {}
    if kept and kept.get("sha256") != _digest(path):
        problems.append(
            f"the file is not the one backed up: its SHA-256 differs from the record's ({record.name}); "
            "it was changed or damaged since"
        )
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            verdict = [r[0] for r in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"{path} is not a SQLite database ({exc})") from None
    if verdict != ["ok"]:
        raise DatabaseError(f"{path} is damaged: SQLite's integrity check says {'; '.join(verdict[:3])}")
    facts = _facts(path)
    if facts.revision is None:
        raise DatabaseError(f"{path} is a SQLite file but not a counter database (no schema revision)")
    if facts.revision != newest_revision():
        problems.append(
            f"schema revision {facts.revision}, this version of the application needs {newest_revision()}"
        )
        return Checked(path, facts.revision, 0, 0, tuple(problems), facts, kept.get("sha256", ""))
    if facts.identity is None:
        problems.append("it has no database identity")
    db = Database(sqlite_url(path), migrate=False, create=False)
    try:
        with db.sessions() as session:
            problems += [f"audit: {p.what}" for p in check_books(session)]  # the chain and the ledgers
            entries = (audit.head(session) or (0, ""))[0]
            accounts = session.execute(select(func.count()).select_from(Account)).scalar_one()
    finally:
        db.dispose()
    return Checked(path, facts.revision, entries, accounts, tuple(problems), facts, kept.get("sha256", ""))


@dataclass(frozen=True)
class RollBack:
    """What restoring an older backup drops: the live database's settlements since the backup."""

    settlements: int
    since: str | None

    def describe(self) -> str:
        return f"this drops {self.settlements} settlements since {self.since or 'the backup'}"


def compare(checked: Checked, target: Path) -> tuple[list[str], RollBack | None]:
    """Why the backup is not this database's, and what it rolls back (None: nothing; it is as new
    or newer). A live file that cannot be read is no obstacle: restoring it is what backups are for."""
    facts = checked.facts
    assert facts is not None
    try:
        live = _facts(target) if target.exists() and target.stat().st_size else None
    except sqlite3.Error:
        live = None
    if live is None or live.identity is None:
        return [], None
    refusals = []
    if live.identity != facts.identity:
        refusals.append(
            f"it is a backup of another database (identity {facts.identity}; this counter's is {live.identity})"
        )
    if live.institutions and facts.institutions and set(live.institutions) != set(facts.institutions):
        refusals.append(
            f"it holds institution {', '.join(facts.institutions)}, this database {', '.join(live.institutions)}"
        )
    if refusals or facts.head is None or live.head is None:
        return refusals, None
    common = min(facts.head[0], live.head[0])
    with closing(sqlite3.connect(f"file:{target}?mode=ro", uri=True)) as conn:
        live_at = conn.execute("SELECT hash FROM audit_entry WHERE id = ?", (common,)).fetchone()
        dropped = conn.execute(
            "SELECT count(*), min(settled_at) FROM settlement WHERE id > ?", (facts.last_settlement,)
        ).fetchone()
    with closing(sqlite3.connect(f"file:{checked.path}?mode=ro", uri=True)) as conn:
        backup_at = conn.execute("SELECT hash FROM audit_entry WHERE id = ?", (common,)).fetchone()
    if live_at is None or backup_at is None or live_at[0] != backup_at[0]:
        return [
            f"its audit chain parts from this database's at entry {common}: a copy that went its own way"
        ], None
    if facts.head[0] < live.head[0]:
        return [], RollBack(dropped[0], dropped[1])
    return [], None


def restore(
    backup_file: Path,
    db_url: str,
    actor: Actor,
    *,
    roll_back: bool = False,
    now: dt.datetime | None = None,
) -> tuple[Checked, Path | None, RollBack | None]:
    """Replace the database at `db_url` with `backup_file` once it checks out and is this
    database's; returns the check, where the replaced file was kept (None if there was none) and
    what was rolled back. An older backup needs `roll_back` (the supervisor's approval of losing
    what came after). Refused, with nothing changed, while any process holds the database; the
    restore is audited in the restored database under the actor's name."""
    actor.require("restore")
    target_db = Database(db_url, migrate=False)
    target = _sqlite_path(target_db)
    target_db.dispose()
    if in_use(target):
        raise DatabaseError(
            f"{target} is open in a running counter, `sync` or a batch: close them all, then restore"
        )
    checked = check(backup_file)
    if checked.problems:
        raise DatabaseError(
            f"{backup_file} does not check out; nothing was restored:\n  "
            + "\n  ".join(checked.problems[:20])
        )
    refusals, dropped = compare(checked, target)
    if refusals:
        raise DatabaseError(
            f"{backup_file} is not this database's; nothing was restored: " + "; ".join(refusals)
        )
    if dropped is not None and not roll_back:
        raise DatabaseError(
            f"{backup_file} is older than the database: {dropped.describe()}; nothing was restored. "
            "A supervisor who approves the roll-back restores it with --roll-back"
        )
    kept = None
    at = now or dt.datetime.now()
    if target.exists():
        kept = target.with_name(f"{target.name}.before-restore-{at:%Y%m%d-%H%M%S}")
        with closing(sqlite3.connect(target)) as src, closing(sqlite3.connect(kept)) as dst:
            src.backup(dst)  # the current data, kept whole (its WAL included)
    with closing(sqlite3.connect(backup_file)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
    restored = Database(sqlite_url(target), migrate=False)
    try:
        with restored.transaction() as session:
            record(
                session,
                actor,
                "restore_roll_back" if dropped else "restore",
                backup_file.name[:100],
                at=at,
                after={
                    "sha256": checked.sha256,
                    "backup_head": checked.audit_entries,
                    "replaced_kept_as": str(kept) if kept else None,
                    "dropped_settlements": dropped.settlements if dropped else 0,
                    "dropped_since": dropped.since if dropped else None,
                },
            )
    finally:
        restored.dispose()
    log.warning(
        "restored %s over %s (%d audit entries checked%s); the replaced file is kept as %s",
        backup_file,
        target,
        checked.audit_entries,
        f"; {dropped.describe()}" if dropped else "",
        kept,
    )
    return checked, kept, dropped
