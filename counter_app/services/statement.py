"""A person's account statement: every ledger entry by its value date with a running balance
that adds up line by line (WH-10, WH-11).

Entries are kept in posting order with the balance at posting (`balance_after`); a batch posts
with a value date before the entries it follows (a month's credit on the 1st, a year's interest at
the year's end), so those stored balances do not read in date order. The statement orders by value
date (posting order within a moment) and computes its own running balance from the balance
brought forward; it ends on the account's balance, and says so if it does not.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select

from .. import identity, labels
from ..engine.money import ZERO
from ..store import Database
from ..store.models import Account, LedgerEntry, Person
from .actor import Actor
from .errors import NotFound, ServiceError

KIND_NAMES = {
    "opening": "期初",
    "opening_current": "期初（当年）",
    "credit": "划入",
    "interest": "利息",
    "settle": "结算支付",
    "mulaid": "家庭共济支付",
    "refund": "退费退回",
    "refund_mulaid": "退费退回（家庭共济）",
    "withdrawal": "提取/转出",
}


@dataclass(frozen=True)
class StatementLine:
    value_date: dt.datetime
    kind: str
    note: str
    amount: Decimal
    balance: Decimal  # running, by value date


@dataclass(frozen=True)
class Statement:
    psn_no: str
    name: str
    masked_certno: str
    start: dt.date
    end: dt.date
    brought_forward: Decimal
    lines: tuple[StatementLine, ...]
    account_balance: Decimal  # the account's balance now
    closed_on: dt.date | None

    @property
    def closing(self) -> Decimal:
        return self.lines[-1].balance if self.lines else self.brought_forward

    @property
    def ties(self) -> bool:
        """The statement to the end of time equals the account's balance (checked by `statement`)."""
        return self.closing == self.account_balance


def statement(db: Database, actor: Actor, certno: str, start: dt.date, end: dt.date) -> Statement:
    """The statement of the person's account from `start` to `end` (both days included)."""
    actor.require("statement")
    if end < start:
        raise ServiceError(f"结束日期 {end} 早于开始日期 {start}")
    try:
        certno = identity.normalise(certno)
    except identity.CertnoError as exc:
        raise ServiceError(str(exc)) from None
    lo, hi = dt.datetime.combine(start, dt.time()), dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    with db.sessions() as session:
        person = session.scalar(select(Person).where(Person.certno == certno))
        account = session.scalar(select(Account).where(Account.person_id == person.id)) if person else None
        if person is None or account is None:
            raise NotFound(f"身份证号 {identity.mask(certno)} 没有职工医保个人账户")
        forward = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
                LedgerEntry.account_id == account.id, LedgerEntry.created_at < lo
            )
        ).scalar_one()
        entries = session.execute(
            select(LedgerEntry.created_at, LedgerEntry.kind, LedgerEntry.note, LedgerEntry.amount)
            .where(
                LedgerEntry.account_id == account.id,
                LedgerEntry.created_at >= lo,
                LedgerEntry.created_at < hi,
            )
            .order_by(LedgerEntry.created_at, LedgerEntry.id)
        ).all()
        after = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
                LedgerEntry.account_id == account.id, LedgerEntry.created_at >= hi
            )
        ).scalar_one()
        lines, running = [], forward
        for at, kind, note, amount in entries:
            note = _relation_words(note)
            running += amount
            lines.append(StatementLine(at, kind, note, amount, running))
        result = Statement(
            person.psn_no,
            person.name,
            identity.mask(person.certno),
            start,
            end,
            forward,
            tuple(lines),
            account.balance - after,
            account.closed_on,
        )
    return result


_RELATION_CODE = re.compile(r"（(" + "|".join(labels.RELATION) + r")）")


def _relation_words(note: str) -> str:
    """Ledger notes written before issue 27 name the relation by its code (张佳（mother））: the
    statement says it in words, as the notes written since do."""
    return _RELATION_CODE.sub(lambda m: f"（{labels.RELATION[m.group(1)]}）", note or "")
