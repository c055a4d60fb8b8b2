"""Backups of the live SQLite file and checked restores (issue 17, "Nothing lost when the disk dies";
issue 26, "restore that cannot hurt"): a bad backup is refused in one line naming why, and the live
database is untouched."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import select

from counter_app.services import backup as bk
from counter_app.services import settlement as svc
from counter_app.services.actor import PermissionDenied
from counter_app.services.audit import record
from counter_app.store import Database, DatabaseError
from counter_app.store.audit import verify
from counter_app.store.db import sqlite_url as url_of
from counter_app.store.models import Account, AuditEntry, LedgerEntry, Settlement

from .world import AT, TODAY, build


def settle(w, code: str = "A001") -> str:
    return svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine(code),), TODAY), None, now=AT
    ).setl_no


def books(url: str) -> tuple[list, list, list]:
    """What must come back whole: every ledger entry, every balance, every settlement number."""
    db = Database(url, migrate=False, create=False)
    try:
        with db.sessions() as s:
            return (
                [
                    (e.id, e.account_id, e.amount, e.balance_after)
                    for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))
                ],
                [(a.id, a.balance) for a in s.scalars(select(Account).order_by(Account.id))],
                list(s.scalars(select(Settlement.setl_no).order_by(Settlement.id))),
            )
    finally:
        db.dispose()


def test_settle_back_up_settle_more_restore_gives_the_backups_books(sqlite_url, tmp_path):
    w = build(sqlite_url)
    first = settle(w)
    folder = tmp_path / "backups"
    copy = bk.backup(w.db, folder, keep=5, why="shift")
    at_backup = books(url_of(copy))
    assert first in at_backup[2]
    later = settle(w, "B001")
    assert books(sqlite_url) != at_backup  # the live file moved on
    supervisor = w.actor("supervisor")
    w.db.dispose()
    before = books(sqlite_url)
    with pytest.raises(
        DatabaseError, match=r"older than the database: this drops 1 settlements since 2024-05-10"
    ):
        bk.restore(copy, sqlite_url, supervisor)  # a roll-back is said in numbers, not done
    assert books(sqlite_url) == before
    checked, kept, dropped = bk.restore(copy, sqlite_url, supervisor, roll_back=True)
    assert checked.problems == () and checked.audit_entries > 0 and dropped and dropped.settlements == 1
    assert books(sqlite_url) == at_backup  # the ledger is the backup's
    assert later in books(url_of(kept))[2]  # and what was replaced is kept beside it, whole
    restored = Database(sqlite_url)
    with restored.sessions() as s:
        assert verify(s) == []
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (last.action, last.staff_no) == ("restore_roll_back", "supervisor1")
    assert '"dropped_settlements":1' in last.detail  # audited in the restored database too


def test_a_backup_as_new_as_the_database_restores_without_a_roll_back(sqlite_url, tmp_path):
    w = build(sqlite_url)
    settle(w)
    copy = bk.backup(w.db, tmp_path, keep=3)
    supervisor = w.actor("supervisor")  # signing in is audited: the live chain is now one entry ahead
    copy_after = bk.backup(w.db, tmp_path, keep=3)
    w.db.dispose()
    _, _, dropped = bk.restore(copy_after, sqlite_url, supervisor)
    assert dropped is None
    with pytest.raises(DatabaseError, match="this drops 0 settlements"):
        bk.restore(copy, sqlite_url, supervisor)  # older by a sign-in and a restore: asked all the same


def test_only_a_supervisor_restores(sqlite_url, tmp_path):
    w = build(sqlite_url)
    copy = bk.backup(w.db, tmp_path, keep=3)
    with pytest.raises(PermissionDenied, match="恢复数据库备份"):
        bk.restore(copy, sqlite_url, w.ctx)


def _refused(w, copy, match: str) -> None:
    """The backup is refused with `match` in its one-line reason, and the live books are as they were."""
    supervisor = w.actor("supervisor")
    w.db.dispose()
    before = books(w.url)
    with pytest.raises(DatabaseError, match=match) as refused:
        bk.restore(copy, w.url, supervisor)
    assert "Traceback" not in str(refused.value)
    assert books(w.url) == before


@pytest.fixture
def w(sqlite_url):
    world = build(sqlite_url)
    world.url = sqlite_url
    settle(world)
    return world


def test_a_backup_with_flipped_bytes_is_refused(w, tmp_path):
    copy = bk.backup(w.db, tmp_path, keep=3)
    data = bytearray(copy.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = bytes(b ^ 0xFF for b in data[middle : middle + 4096])
    copy.write_bytes(bytes(data))
    _refused(w, copy, "damaged|not the one backed up|not a SQLite database")


def test_a_backup_changed_by_sql_and_its_record_kept_is_refused_by_its_digest(w, tmp_path):
    copy = bk.backup(w.db, tmp_path, keep=3)
    with closing(sqlite3.connect(copy)) as raw:
        raw.execute("UPDATE person SET name = '某某' WHERE id = 1")  # a column nothing else covers
        raw.commit()
    _refused(w, copy, "not the one backed up: its SHA-256 differs")


def test_an_empty_file_and_a_missing_record_are_refused(w, tmp_path):
    empty = tmp_path / "counter-empty.sqlite3"
    empty.write_bytes(b"")
    _refused(w, empty, "is empty")
    copy = bk.backup(w.db, tmp_path, keep=3)
    bk.record_path(copy).unlink()
    _refused(w, copy, "record .* is missing")


def test_a_backup_of_another_database_is_refused(w, tmp_path):
    other = Database(url_of(tmp_path / "other.sqlite3"))  # made apart: its own identity
    copy = bk.backup(other, tmp_path / "b", keep=3)
    other.dispose()
    _refused(w, copy, "a backup of another database")


def test_a_copy_that_went_its_own_way_is_refused(w, tmp_path):
    copy = bk.backup(w.db, tmp_path, keep=3)
    fork = Database(url_of(copy))
    with fork.transaction() as s:
        record(s, ("supervisor1", "门诊9"), "note", "the copy's own work", at=AT)
    forked = bk.backup(fork, tmp_path / "forked", keep=3)
    fork.dispose()
    with w.db.transaction() as s:
        record(s, ("supervisor1", "门诊1"), "note", "the live database's own work", at=AT)
    _refused(w, forked, "parts from this database's at entry")


def test_a_backup_taken_while_another_counter_writes_holds_only_committed_work(sqlite_url, tmp_path):
    w = build(sqlite_url)
    settle(w)
    path = w.db.url.database
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")  # another counter in the middle of a settle
        other.execute("UPDATE account SET balance = balance + 1 WHERE id = 2")
        copy = bk.backup(w.db, tmp_path, keep=3)
        other.execute("ROLLBACK")
    assert bk.check(copy).problems == ()


def test_restore_is_refused_while_a_counter_has_the_database_open(sqlite_url, tmp_path):
    w = build(sqlite_url)
    copy = bk.backup(w.db, tmp_path, keep=3)
    settle(w)
    before = books(sqlite_url)
    held = bk.hold(w.db)  # as `counter-app run` does for its whole life
    try:
        with pytest.raises(DatabaseError, match="open in a running counter"):
            bk.restore(copy, sqlite_url, w.actor("supervisor"))
    finally:
        held.close()
    assert books(sqlite_url) == before  # nothing was touched


def test_a_backup_whose_ledger_was_edited_is_refused_and_nothing_changes(sqlite_url, tmp_path):
    w = build(sqlite_url)
    settle(w)
    copy = bk.backup(w.db, tmp_path, keep=3)
    with closing(sqlite3.connect(copy)) as raw:
        raw.execute(
            "UPDATE ledger_entry SET amount = amount + 100 WHERE id = (SELECT max(id) FROM ledger_entry)"
        )
        raw.commit()
    before = books(sqlite_url)
    supervisor = w.actor("supervisor")
    w.db.dispose()
    with pytest.raises(DatabaseError, match="does not check out") as refused:
        bk.restore(copy, sqlite_url, supervisor)
    assert "audit" in str(refused.value) and "ledger" in str(refused.value)
    assert books(sqlite_url) == before


def test_only_the_newest_backups_are_kept_and_a_non_sqlite_file_is_named(sqlite_url, tmp_path):
    w = build(sqlite_url)
    made = [bk.backup(w.db, tmp_path, keep=2, why=f"t{k}") for k in range(4)]
    assert sorted(tmp_path.glob(bk.PATTERN)) == made[-2:]
    junk = tmp_path / "counter-junk.sqlite3"
    junk.write_text("not a database")
    with pytest.raises(DatabaseError, match="is not a SQLite database"):
        bk.check(junk)


def test_a_mistyped_sqlite_path_is_an_error_not_a_new_empty_database(tmp_path):
    missing = tmp_path / "typo" / "counter.sqlite3"
    with pytest.raises(DatabaseError, match="no database at"):
        Database(url_of(missing), create=False)
    assert not missing.exists() and not missing.parent.exists()
