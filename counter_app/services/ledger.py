"""Posting to account ledgers: the only code that changes an account's balance."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.orm import Session

from ..engine.money import ZERO
from ..store.models import Account, LedgerEntry
from .errors import ServiceError


def post(session: Session, account: Account, amount: Decimal, kind: str, note: str, *, at: dt.datetime,
         settlement_id: int | None = None, period: str | None = None) -> LedgerEntry:
    """Add one entry and move the cached balance with it; an overdraw is refused, never written."""
    after = account.balance + amount
    if after < ZERO:
        raise ServiceError(f"账户余额不足：余额 {account.balance}，需扣 {-amount}")
    account.balance = after
    account.version += 1
    entry = LedgerEntry(account_id=account.id, amount=amount, balance_after=after, kind=kind, note=note,
                        settlement_id=settlement_id, period=period, created_at=at)
    session.add(entry)
    return entry


def ledger_sum(session: Session, account_id: int) -> Decimal:
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(LedgerEntry.account_id == account_id))


def mismatched_accounts(session: Session) -> list[tuple[int, Decimal, Decimal]]:
    """Accounts whose cached balance differs from their ledger sum: (id, cached, ledger). Empty is good."""
    sums = (select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
            .group_by(LedgerEntry.account_id).subquery())
    rows = session.execute(
        select(Account.id, Account.balance, func.coalesce(sums.c.total, ZERO))
        .outerjoin(sums, sums.c.account_id == Account.id)
    ).all()
    return [(i, cached, total) for i, cached, total in rows if cached != total]


@dataclass(frozen=True, slots=True)
class BatchPosting:
    """One entry of a batch, for an account whose balance the caller read under its lock."""

    account_id: int
    balance_before: Decimal
    amount: Decimal
    note: str


def post_batch(session: Session, postings: list[BatchPosting], kind: str, period: str, *, at: dt.datetime
               ) -> list[int]:
    """Post many entries of one kind and period (crediting, interest) in two statements.

    The caller has locked the accounts (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL) and
    read `balance_before` in the same transaction. The unique (account, kind, period) index makes a
    second posting of the same period fail as a whole instead of crediting twice. Returns the new
    entries' ids (for the audit entry that covers them)."""
    if not postings:
        return []
    for p in postings:
        if p.balance_before + p.amount < ZERO:
            raise ServiceError(f"账户 {p.account_id} 余额不足：余额 {p.balance_before}，需扣 {-p.amount}")
    ids = session.scalars(insert(LedgerEntry).returning(LedgerEntry.id), [
        dict(account_id=p.account_id, amount=p.amount, balance_after=p.balance_before + p.amount, kind=kind,
             note=p.note, settlement_id=None, period=period, created_at=at) for p in postings])
    table = Account.__table__
    session.execute(
        table.update().where(table.c.id == bindparam("b_id"))
        .values(balance=bindparam("b_balance"), version=table.c.version + 1),
        [dict(b_id=p.account_id, b_balance=p.balance_before + p.amount) for p in postings])
    return list(ids)
