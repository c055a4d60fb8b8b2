"""Monthly crediting of 1,000,000 accounts (aim: at most 60 s) on SQLite or PostgreSQL, a run
stopped part way and finished by a rerun, and a second run of the same month (idempotence: it must
post nothing and should be cheap).

    .venv/bin/python bench/batch.py [--accounts 1000000] [--db URL]

Builds a population of in-service employees, retirees, flexible workers and people in arrears
with one opening ledger entry each, then times `credit_month` end to end: reading, the rules of
every account, the ledger entries and the balance updates (one executemany each per chunk, with
insertmanyvalues), the audit entry of each chunk, committed chunk by chunk. Then it starts the next
month, stops it after a few chunks (as a crash would) and times the rerun that finishes it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import bindparam, func, insert, select, update

from counter_app.batch import runs
from counter_app.batch.crediting import credit_month
from counter_app.services.ledger import mismatched_accounts
from counter_app.store import Database
from counter_app.store.models import Account, LedgerEntry, Person
from tests.actors import actor

KINDS = (
    ("in_service", "normal"),
    ("in_service", "normal"),
    ("in_service", "normal"),
    ("retired", "normal"),
    ("flexible_combined", "normal"),
    ("in_service", "arrears"),
)


def populate(db: Database, n: int) -> float:
    start = time.perf_counter()
    opened, at = dt.date(2010, 1, 1), dt.datetime(2026, 1, 1)
    with db.transaction() as s:
        for first in range(1, n + 1, 50_000):
            ids = range(first, min(n, first + 49_999) + 1)
            s.execute(
                insert(Person),
                [
                    dict(
                        id=i,
                        psn_no=f"B{i:011d}",
                        certno=f"{i:018d}",
                        name="测试",
                        insutype="310",
                        psn_type=KINDS[i % 6][0],
                        status=KINDS[i % 6][1],
                        hospitalized=False,
                        retired_on=dt.date(2015, 1, 1) if KINDS[i % 6][0] == "retired" else None,
                        contribution_base=Decimal(4000 + i % 9000),
                    )
                    for i in ids
                ],
            )
            s.execute(
                insert(Account),
                [
                    dict(id=i, person_id=i, opened_on=opened, balance=Decimal("100.00"), version=1)
                    for i in ids
                ],
            )
            s.execute(
                insert(LedgerEntry),
                [
                    dict(
                        account_id=i,
                        amount=Decimal("100.00"),
                        balance_after=Decimal("100.00"),
                        kind="opening",
                        note="bench",
                        period=None,
                        created_at=at,
                    )
                    for i in ids
                ],
            )
    return time.perf_counter() - start


def _stopped_after(db: Database, clerk, month: dt.date, today: dt.date, chunks: int) -> int:
    """Run `month` and stop it after `chunks` committed chunks, as a crash would; the entries posted."""
    walk, seen = runs.account_chunks, []

    def stopping(*args, **kwargs):
        for n, chunk in enumerate(walk(*args, **kwargs)):
            if n == chunks:
                raise KeyboardInterrupt  # inside the chunk's transaction: it rolls back, as in a crash
            seen.append(len(chunk[1]))
            yield chunk

    import counter_app.batch.crediting as crediting

    crediting.account_chunks = stopping
    try:
        credit_month(db, clerk, month, today=today)
    except KeyboardInterrupt:
        pass
    finally:
        crediting.account_chunks = walk
    return sum(seen)


def bare_floor(db: Database, accounts: int, posted: int, chunk: int = 5_000) -> float:
    """The floor crediting is held to (issue 28): the same number of ledger rows inserted by a bare
    executemany, and their accounts' balances updated by another, committed a chunk at a time."""
    at = dt.datetime(2027, 1, 31, 23, 0)
    ids = list(range(1, accounts + 1))[:posted]
    start = time.perf_counter()
    for first in range(0, len(ids), chunk):
        part = ids[first : first + chunk]
        with db.engine.begin() as conn:
            conn.execute(
                insert(LedgerEntry),
                [
                    dict(
                        account_id=i,
                        amount=Decimal("8.00"),
                        balance_after=Decimal("108.00"),
                        kind="credit",
                        note="floor",
                        period="2027-01",
                        created_at=at,
                    )
                    for i in part
                ],
            )
            conn.execute(
                update(Account).where(Account.id == bindparam("aid")),
                [{"aid": i, "balance": Decimal("108.00"), "version": 3} for i in part],
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.accounts = 2_000
    db = Database(args.db or f"sqlite:///{tempfile.mkdtemp()}/batch.sqlite3")
    load = populate(db, args.accounts)
    clerk = actor(db, "agency_clerk")
    month, today = dt.date(2026, 10, 1), dt.date(2026, 11, 29)
    start = time.perf_counter()
    first = credit_month(db, clerk, month, today=today)
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    second = credit_month(db, clerk, month, today=today)
    second_s = time.perf_counter() - start
    stopped = _stopped_after(db, clerk, dt.date(2026, 11, 1), today, chunks=3)
    start = time.perf_counter()
    resumed = credit_month(db, clerk, dt.date(2026, 11, 1), today=today)
    resumed_s = time.perf_counter() - start
    with db.sessions() as s:
        entries = s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "credit"))
        start = time.perf_counter()
        mismatched = len(mismatched_accounts(s))
        check_s = time.perf_counter() - start
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, database {db.engine.dialect.name}"
    )
    print(f"population of {args.accounts:,} accounts loaded in {load:.1f} s")
    print(
        f"credit {first.period}: {first.posted:,} entries, total {first.total}, skipped "
        f"{sum(first.skipped.values()):,}: {first_s:.1f} s  ({args.accounts / first_s:,.0f} accounts/s; aim < 60 s)"
    )
    print(f"same month again: {second.posted} posted, {second.already:,} already done: {second_s:.1f} s")
    print(
        f"next month stopped after {stopped:,} accounts, rerun: {resumed.posted:,} posted, {resumed.already:,} "
        f"already done: {resumed_s:.1f} s"
    )
    floor_s = bare_floor(db, args.accounts, first.posted)
    ratio = first_s / floor_s
    print(
        f"floor: {first.posted:,} ledger rows and balance updates by bare executemany: {floor_s:.1f} s; "
        f"crediting {ratio:.1f}x the floor (aim <= 3x: {'met' if ratio <= 3 else 'not met'})"
    )
    print(
        f"ledger check: {entries:,} credit entries, {mismatched} accounts whose balance differs from the "
        f"ledger ({check_s:.1f} s)"
    )


if __name__ == "__main__":
    main()
