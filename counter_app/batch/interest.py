"""Yearly interest on every personal account (WH-10, WH-11), posted once as ledger entries.

The calculation for one account is `engine.interest.year_interest`, with the rates and day count
of `resources/rates/deposit-rates.toml`. A year is posted only after it has ended. The entry is
written when the batch runs but its value date is the year's end: the next year's calculation
counts it in the balance brought forward (period = the year it was earned in), not as a movement.
Running a year twice posts once; closed accounts (transferred or withdrawn) are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import and_, exists, select

from ..engine.interest import year_end, year_interest
from ..engine.money import ZERO
from ..policies import load_interest_rules
from ..services.actor import Actor
from ..services.ledger import INTEREST, BatchPosting, post_batch, year_ledger
from ..store import Database
from ..store.models import Account, LedgerEntry
from .runs import BatchError, RunReport, account_chunks, audit_chunk, finish_run, start_run

KIND = INTEREST  # the ledger kind, one name for the batch and for interest paid at closing


def post_interest(
    db: Database,
    actor: Actor,
    year: int,
    *,
    today: dt.date | None = None,
    chunk: int = 5_000,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Post `year`'s interest to every open account; returns the run's report.
    `progress(accounts walked)` is told after every committed chunk."""
    actor.require("batch")
    today = today or dt.date.today()
    if dt.date(year, 12, 31) >= today:
        raise BatchError(f"{year} has not ended: interest is posted once, after the year's last day")
    rules = load_interest_rules()
    period = str(year)
    report = RunReport("interest", period, f"{rules.rule} deposit rates")
    start_run(db, actor, report, dt.datetime.now())
    done = exists().where(
        and_(LedgerEntry.account_id == Account.id, LedgerEntry.kind == KIND, LedgerEntry.period == period)
    )
    query = (
        select(Account.id, Account.balance, Account.closed_on, done.label("done"))
        .order_by(Account.id)
        .limit(chunk)
    )
    for session, rows in account_chunks(db, query, progress):
        forward, moves = year_ledger(session, [r[0] for r in rows], year)
        postings, chunk_total = [], ZERO
        for account_id, balance, closed, already in rows:
            if already:
                report.already += 1
                continue
            if closed is not None and closed <= dt.date(year, 12, 31):
                report.skipped["WH-10: account closed (transferred or withdrawn) during the year"] += 1
                continue
            result = year_interest(rules, year, forward.get(account_id) or ZERO, moves.get(account_id, ()))
            if result.interest <= 0:
                report.skipped[f"{rules.rule}: no interest due (no balance during {year})"] += 1
                continue
            postings.append(
                BatchPosting(account_id, balance, result.interest, f"{year} 年利息 {result.note(rules)}")
            )
            report.total += result.interest
            chunk_total += result.interest
            report.by_source["interest"] += result.interest
        entries = post_batch(session, postings, KIND, period, at=year_end(year))
        audit_chunk(session, actor, report, entries, chunk_total, dt.datetime.now())
        report.posted += len(postings)
    finish_run(db, actor, report, dt.datetime.now())
    return report


def interest_for_account(db: Database, account_id: int, year: int) -> Decimal:
    """What `post_interest` would post for one account (for the supervisor's check and tests)."""
    with db.sessions() as session:
        forward, moves = year_ledger(session, [account_id], year)
    return year_interest(
        load_interest_rules(), year, forward.get(account_id) or ZERO, moves.get(account_id, ())
    ).interest
