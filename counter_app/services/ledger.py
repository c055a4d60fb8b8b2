"""Posting to account ledgers: the only code that changes an account's balance."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select
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
