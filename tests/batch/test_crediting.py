"""Monthly crediting over a real database (SQLite and PostgreSQL): each person type across a
retirement month, idempotence, the ledger tying, refusals that write nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from counter_app import identity
from counter_app.batch.crediting import credit_month
from counter_app.batch.runs import BatchError
from counter_app.services.ledger import ledger_sum, mismatched_accounts
from counter_app.store import Database
from counter_app.store.models import Account, BatchRun, LedgerEntry
from tests.actors import actor

from ..services.world import person

D = Decimal
TODAY = dt.date(2026, 11, 29)
PEOPLE = {  # id: (psn_type, status, base, retired_on, died_on, opening balance)
    1: ("in_service", "normal", "6543.21", None, None, "100.00"),
    2: ("flexible_combined", "normal", "4000.25", None, None, "0.00"),
    3: ("retired", "normal", "5000.00", dt.date(2026, 9, 15), None, "10.00"),  # retires in September
    4: ("retired", "normal", None, dt.date(2012, 5, 1), None, "300.00"),
    5: ("in_service", "arrears", "7000.00", None, None, "20.00"),
    6: ("in_service", "normal", "8000.00", None, dt.date(2026, 9, 3), "5.00"),  # died in September
}


def build(url: str) -> Database:
    db = Database(url)
    with db.transaction() as s:
        for pid, (psn_type, status, base, retired_on, died_on, balance) in PEOPLE.items():
            person(
                s,
                pid,
                f"人员{pid}",
                identity.make("340202", dt.date(1960 + pid, 1, 1), pid),
                "310",
                psn_type,
                balance=balance,
                status=status,
                contribution_base=D(base) if base else None,
                retired_on=retired_on,
                died_on=died_on,
            )
        person(
            s, 7, "单建统筹", identity.make("340202", dt.date(1990, 1, 1), 7), "310", "flexible_pooling_only"
        )
    return db


def credits(db: Database, period: str) -> dict[int, Decimal]:
    with db.sessions() as s:
        return dict(
            s.execute(
                select(LedgerEntry.account_id, LedgerEntry.amount).where(
                    LedgerEntry.kind == "credit", LedgerEntry.period == period
                )
            ).all()
        )


def test_WH_6_WH_7_WH_21_each_person_type_across_the_retirement_month(db_url):
    db = build(db_url)
    september = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 9, 1), today=TODAY)
    october = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY)
    assert credits(db, "2026-09") == {
        1: D("130.86"),
        2: D("80.01"),
        3: D("100.00"),
        4: D("70.00"),
        6: D("160.00"),
    }
    assert credits(db, "2026-10") == {1: D("130.86"), 2: D("80.01"), 3: D("70.00"), 4: D("70.00")}
    assert september.by_source == {"contribution": D("470.87"), "pooling_fund": D("70.00")}
    assert october.skipped == {
        "WH-7 (1): contributions not paid as required (arrears)": 1,
        "WH-7 (3): died: crediting stops from the month after death": 1,
    }
    with db.sessions() as s:
        assert mismatched_accounts(s) == []
        assert s.get(Account, 3).balance == D("180.00") == ledger_sum(s, 3)
        entry = s.scalar(
            select(LedgerEntry).where(LedgerEntry.account_id == 3, LedgerEntry.period == "2026-10")
        )
        assert (
            entry.created_at == dt.datetime(2026, 10, 1) and "WH-6 (2)" in entry.note
        )  # value date: the 1st


def test_running_a_month_twice_credits_once(db_url):
    db = build(db_url)
    first = credit_month(
        db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY, chunk=2
    )  # several chunks
    with db.sessions() as s:
        balances = dict(s.execute(select(Account.id, Account.balance)).all())
    second = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY)
    assert (first.posted, first.already, second.posted, second.already) == (4, 0, 0, 4)
    assert second.total == D("0.00")
    with db.sessions() as s:
        assert dict(s.execute(select(Account.id, Account.balance)).all()) == balances
        assert (
            s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "credit")) == 4
        )
        runs = list(s.scalars(select(BatchRun).order_by(BatchRun.id)))
    assert [(r.kind, r.period, r.posted, r.already, r.run_by) for r in runs] == [
        ("crediting", "2026-10", 4, 0, "agency1"),
        ("crediting", "2026-10", 0, 4, "agency1"),
    ]
    assert json.loads(runs[0].report_json)["total"] == "350.87" and runs[0].finished_at is not None


def test_a_run_stopped_part_way_is_finished_by_running_again(db_url):
    """A credit already in the ledger for some accounts (as a killed run leaves it) is not repeated."""
    db = build(db_url)
    credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY)
    with db.transaction() as s:  # undo two accounts' credits as if their chunk never committed
        for entry in s.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "credit", LedgerEntry.account_id > 2)
        ):
            account = s.get(Account, entry.account_id)
            account.balance -= entry.amount
            s.delete(entry)
    again = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY)
    assert (again.posted, again.already) == (2, 2)
    assert credits(db, "2026-10") == {1: D("130.86"), 2: D("80.01"), 3: D("70.00"), 4: D("70.00")}


def test_the_database_refuses_a_second_credit_for_the_same_period(db_url):
    from sqlalchemy.exc import IntegrityError

    db = build(db_url)
    credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY)
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(
            LedgerEntry(
                account_id=1,
                amount=D("1.00"),
                balance_after=D("231.86"),
                kind="credit",
                note="twice",
                period="2026-10",
                created_at=dt.datetime(2026, 10, 2),
            )
        )


@pytest.mark.parametrize(
    "month, message",
    [
        (dt.date(2026, 12, 1), "2026-12 has not begun"),
        (dt.date(2022, 6, 1), "no account crediting rules for 2022-06"),
    ],
)
def test_refusals_write_nothing(sqlite_url, month, message):
    db = build(sqlite_url)
    with pytest.raises(BatchError, match=message):
        credit_month(db, actor(db, "agency_clerk"), month, today=TODAY)
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(BatchRun)) == 0
        assert credits(db, "2026-12") == {} and credits(db, "2022-06") == {}


def test_a_chunk_of_hundreds_is_posted_in_bulk_and_still_ties_to_the_ledger(db_url):
    """From ledger.BULK_FROM postings a chunk goes through the driver (executemany / COPY) with ids
    taken first: the entries, the balances and the audit chain must come out as on the small path."""
    from sqlalchemy import func, insert, select

    from counter_app.services.ledger import BULK_FROM, mismatched_accounts
    from counter_app.store.audit import adopt, verify
    from counter_app.store.models import Account, LedgerEntry, Person

    n = BULK_FROM + 50
    db = Database(db_url)
    with db.transaction() as s:
        s.execute(
            insert(Person),
            [
                dict(
                    id=i,
                    psn_no=f"B{i:06d}",
                    certno=f"{i:018d}",
                    name="测试",
                    insutype="310",
                    psn_type="in_service",
                    status="normal",
                    hospitalized=False,
                    contribution_base=D("5000.00"),
                )
                for i in range(1, n + 1)
            ],
        )
        s.execute(
            insert(Account),
            [
                dict(id=i, person_id=i, opened_on=dt.date(2010, 1, 1), balance=D("100.00"), version=1)
                for i in range(1, n + 1)
            ],
        )
        s.execute(
            insert(LedgerEntry),
            [
                dict(
                    account_id=i,
                    amount=D("100.00"),
                    balance_after=D("100.00"),
                    kind="opening",
                    note="t",
                    created_at=dt.datetime(2026, 1, 1),
                )
                for i in range(1, n + 1)
            ],
        )
        adopt(s, at=dt.datetime(2026, 1, 1), staff_no="test", counter="setup", action="load", obj="opening")
    report = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY, chunk=n)
    assert report.posted == n
    with db.sessions() as s:
        assert mismatched_accounts(s) == []
        assert verify(s) == []  # the audit entry hashed what the database holds
        credited = s.scalars(
            select(LedgerEntry).where(LedgerEntry.kind == "credit").order_by(LedgerEntry.id)
        ).all()
        assert [e.account_id for e in credited] == list(range(1, n + 1))
        assert all(e.balance_after == D("100.00") + e.amount and e.period == "2026-10" for e in credited)
        assert s.scalar(select(func.min(Account.version))) == 2
    again = credit_month(db, actor(db, "agency_clerk"), dt.date(2026, 10, 1), today=TODAY, chunk=n)
    assert (again.posted, again.already) == (0, n)
