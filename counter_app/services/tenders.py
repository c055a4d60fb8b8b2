"""How the patient pays the cash part of a bill: one means, or several (issue 27).

A bill paid by several means has tender MIXED on its settlement and one `settlement_tender` row per
means (cash, bank card, WeChat Pay, Alipay), the amounts summing to its cash part; the cashier types
the card and app amounts and the balance is cash. A refund gives each back by the same means, or
all in cash under the refund's approval; the cash handed back never exceeds the drawer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from ..engine.money import ZERO, cents, fmt
from ..store.models import SettlementTender
from .errors import ServiceError

TENDERS = {"cash": "现金", "card": "银行卡", "wechat": "微信", "alipay": "支付宝"}
MIXED = "mixed"
TENDER_WORDS = {**TENDERS, MIXED: "组合支付"}

Parts = list[tuple[str, Decimal]]


def split(cash_pay: Decimal, tender: str, paid_by: Sequence[tuple[str, Decimal]] = ()) -> Parts:
    """The bill's cash part by means: `paid_by` the amounts typed for card and apps (cash is the
    balance), else all by `tender`. Refused: an unknown means, an amount not in cents or not above
    zero, the same means twice, or more than the cash part."""
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    if not paid_by:
        return [(tender, cash_pay)]
    parts: Parts = []
    for means, amount in paid_by:
        if means not in TENDERS or means == "cash":
            raise ServiceError(f"组合支付只填银行卡、微信、支付宝的金额，其余为现金（{means}）")
        if not isinstance(amount, Decimal) or amount <= 0 or amount != cents(amount):
            raise ServiceError(f"{TENDERS[means]}金额应为大于 0 的金额（两位小数）：{amount}")
        if any(means == m for m, _ in parts):
            raise ServiceError(f"{TENDERS[means]}填了两次")
        parts.append((means, amount))
    paid = sum((a for _, a in parts), ZERO)
    if paid > cash_pay:
        raise ServiceError(f"组合支付合计 {fmt(paid)} 超过应收现金部分 {fmt(cash_pay)}")
    if paid < cash_pay:
        parts.append(("cash", cash_pay - paid))
    return parts


def tender_of(parts: Parts) -> str:
    """What the settlement row says: the one means, or MIXED."""
    return parts[0][0] if len(parts) == 1 else MIXED


def cash_in(parts: Parts) -> Decimal:
    return sum((a for m, a in parts if m == "cash"), ZERO)


_TABLE = cast(Table, SettlementTender.__table__)
_INSERT = _TABLE.insert().returning(_TABLE.c.id, sort_by_parameter_order=True)


def write(session: Session, settlement_id: int, parts: Parts) -> list[dict[str, Any]]:
    """The rows of a MIXED settlement (none for one means), with their ids, for the audit entry."""
    if len(parts) < 2:
        return []
    rows: list[dict[str, Any]] = [
        {"settlement_id": settlement_id, "tender": means, "amount": amount} for means, amount in parts
    ]
    for row, ident in zip(rows, session.scalars(_INSERT, rows).all(), strict=True):
        row["id"] = ident
    return rows


def parts_of(session: Session, settlement_ids: Iterable[int]) -> dict[int, Parts]:
    """The means of MIXED settlements, by settlement."""
    ids = list(settlement_ids)
    out: dict[int, Parts] = {}
    if not ids:
        return out
    for sid, means, amount in session.execute(
        select(SettlementTender.settlement_id, SettlementTender.tender, SettlementTender.amount)
        .where(SettlementTender.settlement_id.in_(ids))
        .order_by(SettlementTender.id)
    ):
        out.setdefault(sid, []).append((means, amount))
    return out


def words(parts: Parts) -> str:
    """For the slip and the screen: 银行卡 50.00 + 现金 30.00."""
    if len(parts) == 1:
        return TENDERS.get(parts[0][0], parts[0][0])
    return " + ".join(f"{TENDERS.get(m, m)} {fmt(abs(a))}" for m, a in parts)
