"""Monthly crediting of every personal account (WH-6, WH-7, WH-21), as ledger entries.

The rule for one person and month is `engine.crediting.monthly_credit`; this walks the accounts
in chunks of `chunk`, each chunk one transaction that locks its accounts, skips those already
credited for the month, and posts the rest (`ledger.post_batch`). Running a month twice credits
once; a run stopped part way (a crash, a killed process) is finished by running it again.
A credit that falls due for an account closed later in its month is never posted into it: the
report names it with its amount, to go with the transfer (WH-10, decision 11).
Each entry is dated the first day of its month (its value date for interest, WH-11), whenever
the batch runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import and_, exists, select

from ..engine.crediting import Credit, Member, monthly_credit, period_label
from ..engine.money import ZERO
from ..policies import load_pack
from ..services.actor import Actor
from ..services.ledger import BatchPosting, post_batch
from ..store import Database
from ..store.models import Account, LedgerEntry, Person
from .runs import BatchError, RunReport, account_chunks, audit_chunk, finish_run, start_run

KIND = "credit"
DEFAULT_POLICY = "wuhu-2022"


def credit_month(
    db: Database,
    actor: Actor,
    month: dt.date,
    *,
    policy: str = DEFAULT_POLICY,
    today: dt.date | None = None,
    chunk: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Credit `month` (any day in it) to every account it is due to; returns the run's report.
    `progress(accounts walked)` is told after every committed chunk."""
    actor.require("batch")
    month = month.replace(day=1)
    today = today or dt.date.today()
    if month > today:
        raise BatchError(f"{period_label(month)} has not begun: a month is credited once it has started")
    pack = load_pack(policy)
    if pack.crediting_for(month) is None:
        raise BatchError(f"policy pack {policy} has no account crediting rules for {period_label(month)}")
    period = period_label(month)
    report = RunReport("crediting", period, policy)
    start_run(db, actor, report, dt.datetime.now())
    done = exists().where(
        and_(LedgerEntry.account_id == Account.id, LedgerEntry.kind == KIND, LedgerEntry.period == period)
    )
    query = (
        select(
            Account.id,
            Account.balance,
            Account.opened_on,
            Account.closed_on,
            Person.insutype,
            Person.psn_type,
            Person.status,
            Person.contribution_base,
            Person.retired_on,
            Person.died_on,
            Person.psn_no,
            done.label("done"),
        )
        .join(Person, Person.id == Account.person_id)
        .order_by(Account.id)
        .limit(chunk)
    )
    value_date = dt.datetime.combine(
        month, dt.time()
    )  # a month's credit counts from its first day (interest)
    for session, rows in account_chunks(db, query, progress):
        postings, chunk_total = [], ZERO
        for (
            account_id,
            balance,
            opened,
            closed,
            insutype,
            psn_type,
            status,
            base,
            retired_on,
            died_on,
            psn_no,
            already,
        ) in rows:
            if already:
                report.already += 1
                continue
            outcome = monthly_credit(
                pack, Member(insutype, psn_type, status, base, retired_on, died_on, opened, closed), month
            )
            if isinstance(outcome, Credit) and closed is not None:
                # closed later in the month: due, but nothing is posted into a closed account
                report.due_closed.append((psn_no, outcome.amount))
                report.skipped["WH-10: account closed since the first of the month; due amount reported"] += 1
            elif isinstance(outcome, Credit):
                postings.append(
                    BatchPosting(
                        account_id, balance, outcome.amount, f"{period} {outcome.note}（{outcome.rule}）"
                    )
                )
                report.total += outcome.amount
                chunk_total += outcome.amount
                report.by_source[outcome.source] += outcome.amount
            else:
                report.skipped[f"{outcome.rule}: {outcome.reason}"] += 1
        entries = post_batch(session, postings, KIND, period, at=value_date)
        audit_chunk(session, actor, report, entries, chunk_total, dt.datetime.now())
        report.posted += len(postings)
    finish_run(db, actor, report, dt.datetime.now())
    return report
