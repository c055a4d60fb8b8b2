"""Backups of the live SQLite file and checked restores (issue 17, "Nothing lost when the disk dies")."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from sqlalchemy import select

from counter_app.services import backup as bk
from counter_app.services import settlement as svc
from counter_app.store import Database, DatabaseError
from counter_app.store.db import sqlite_url as url_of
from counter_app.store.models import Account, LedgerEntry, Settlement

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
    w.db.dispose()
    checked, kept = bk.restore(copy, sqlite_url)
    assert checked.problems == () and checked.audit_entries > 0
    assert books(sqlite_url) == at_backup  # the ledger is the backup's
    assert later in books(url_of(kept))[2]  # and what was replaced is kept beside it, whole


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
            bk.restore(copy, sqlite_url)
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
    w.db.dispose()
    with pytest.raises(DatabaseError, match="does not check out") as refused:
        bk.restore(copy, sqlite_url)
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
