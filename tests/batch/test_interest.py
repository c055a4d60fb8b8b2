"""Yearly interest over a real database: the hand-worked year posted once, carried into the next
year, refused before the year has ended."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from counter_app import identity
from counter_app.batch.interest import interest_for_account, post_interest
from counter_app.batch.runs import BatchError
from counter_app.services.ledger import mismatched_accounts
from counter_app.store import Database
from counter_app.store.models import Account, LedgerEntry, Person
from tests.actors import actor

D = Decimal


def entry(s, amount: str, kind: str, at: dt.datetime, balance_after: str) -> None:
    s.add(
        LedgerEntry(
            account_id=1,
            amount=D(amount),
            balance_after=D(balance_after),
            kind=kind,
            note=kind,
            created_at=at,
        )
    )


def build(url: str) -> Database:
    """Account 1 as in tests/engine/test_interest_rules.py: 1000.00 brought into 2025, +100.00
    credited 1 Jul, 150.00 paid 1 Oct. Account 2 was closed in 2025; account 3 is empty."""
    db = Database(url)
    with db.transaction() as s:
        for pid in (1, 2, 3):
            s.add(
                Person(
                    id=pid,
                    psn_no=f"P{pid}",
                    certno=identity.make("340202", dt.date(1970, 1, pid), pid),
                    name=f"人员{pid}",
                    insutype="310",
                    psn_type="in_service",
                    status="normal",
                )
            )
        s.flush()
        s.add(Account(id=1, person_id=1, opened_on=dt.date(2010, 1, 1), balance=D("950.00"), version=3))
        s.add(
            Account(
                id=2,
                person_id=2,
                opened_on=dt.date(2010, 1, 1),
                closed_on=dt.date(2025, 6, 30),
                balance=D("0.00"),
                version=0,
            )
        )
        s.add(Account(id=3, person_id=3, opened_on=dt.date(2010, 1, 1), balance=D("0.00"), version=0))
        s.flush()
        entry(s, "1000.00", "opening", dt.datetime(2020, 3, 1), "1000.00")
        entry(s, "100.00", "credit", dt.datetime(2025, 7, 1), "1100.00")
        entry(s, "-150.00", "settle", dt.datetime(2025, 10, 1, 10, 30), "950.00")
    return db


def test_WH_11_the_hand_worked_year_is_posted_once(db_url):
    db = build(db_url)
    assert interest_for_account(db, 1, 2025) == D("11.10")
    report = post_interest(db, actor(db, "agency_clerk"), 2025, today=dt.date(2026, 1, 5))
    again = post_interest(db, actor(db, "agency_clerk"), 2025, today=dt.date(2026, 1, 6))
    assert (report.posted, report.total, again.posted, again.already) == (1, D("11.10"), 0, 1)
    assert report.skipped == {
        "WH-10: account closed (transferred or withdrawn) during the year": 1,
        "WH-11: no interest due (no balance during 2025)": 1,
    }
    with db.sessions() as s:
        posted = s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "interest"))
        assert (posted.amount, posted.period, posted.balance_after) == (D("11.10"), "2025", D("961.10"))
        assert "结转积数 360400.00" in posted.note and "当年积数 9200.00" in posted.note
        assert s.get(Account, 1).balance == D("961.10") and mismatched_accounts(s) == []


def test_WH_10_interest_is_principal_of_the_next_year_from_its_value_date(sqlite_url):
    """Posted on 5 Jan 2026, 2025's interest still belongs to the balance brought into 2026:
    961.10 x 365 days x 0.011 / 360 = 10.7189... -> 10.72."""
    db = build(sqlite_url)
    post_interest(db, actor(db, "agency_clerk"), 2025, today=dt.date(2026, 1, 5))
    assert interest_for_account(db, 1, 2026) == D("10.72")


def test_a_year_not_ended_is_refused(sqlite_url):
    db = build(sqlite_url)
    with pytest.raises(BatchError, match="2026 has not ended"):
        post_interest(db, actor(db, "agency_clerk"), 2026, today=dt.date(2026, 12, 31))
    with db.sessions() as s:
        assert s.scalar(select(LedgerEntry).where(LedgerEntry.kind == "interest")) is None
