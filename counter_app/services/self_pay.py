"""Self-pay visits (自费): the patient pays the hospital's price in full, nothing goes to the centre.

For a patient without insurance (found by ID number, or typed by name), for an insured patient
who chooses not to use it, and for items the national catalogue cannot class (price_list: an
unmapped item sells only this way). The settlement is recorded like any other (numbered, in the
shift's takings, audited, refundable) under the policy `self-pay`: no fund, no account, no year
total, no message upstream, and the agency's declaration and monitoring leave it out.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import identity
from ..engine import SettlementResult
from ..engine.claim import Ytd
from ..engine.money import ZERO, cents, fmt
from ..engine.settlement import MONEY_FIELDS
from ..store import Database
from ..store.models import CatalogueItem, Person
from . import numbers
from .actor import Actor
from .errors import NotFound, ServiceError
from .settlement import _INSERT_SETTLEMENT, SELF_PAY, ClaimLine, Settled, _audit_money, checked_line
from .shift import counter_state, day_after_close
from .tenders import TENDERS

VERSION = "1"
MAX_NAME = 50


@dataclass(frozen=True, slots=True)
class SelfPayRequest:
    """Who pays (an insured person's id, or a name and optionally an ID number) and for what."""

    lines: tuple[ClaimLine, ...]
    visit_date: dt.date
    person_id: int | None = None
    name: str = ""
    certno: str = ""
    med_type: str = "11"


@dataclass(frozen=True, slots=True)
class SelfPayLine:
    code: str
    name: str
    quantity: Decimal
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SelfPayPreview:
    payer: str  # the name the receipt shows
    lines: tuple[SelfPayLine, ...]
    result: SettlementResult  # the split in the engine's shape: everything in cash

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def _payer(session: Session, request: SelfPayRequest) -> tuple[Person | None, str, str]:
    """(the insured person, or None; the payer's name; their ID number or "")."""
    if request.person_id is not None:
        person = session.get(Person, request.person_id)
        if person is None:
            raise NotFound(f"未找到参保人（内部编号 {request.person_id}）")
        return person, person.name, person.certno
    name = request.name.strip()
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ServiceError(f"自费患者须录入姓名（1 到 {MAX_NAME} 字）")
    certno = request.certno.strip().upper()
    if certno:
        try:
            certno = identity.normalise(certno)
        except identity.CertnoError as exc:
            raise ServiceError(str(exc)) from None
    return None, name, certno


def _lines(session: Session, lines: tuple[ClaimLine, ...]) -> tuple[SelfPayLine, ...]:
    if not lines:
        raise ServiceError("请至少录入一个收费项目")
    found = {
        c.code: c
        for c in session.scalars(
            select(CatalogueItem).where(CatalogueItem.code.in_({ln.code for ln in lines}))
        )
    }
    out = []
    for n, line in enumerate(lines, 1):
        item = checked_line(n, line, found.get(line.code))
        out.append(
            SelfPayLine(item.code, item.name, line.quantity, item.price, cents(item.price * line.quantity))
        )
    return tuple(out)


def preview(db: Database, ctx: Actor, request: SelfPayRequest) -> SelfPayPreview:
    """What the patient will pay, line by line; writes nothing."""
    ctx.require_settle(request.med_type)
    with db.sessions() as session:
        _, name, _ = _payer(session, request)
        lines = _lines(session, request.lines)
        return SelfPayPreview(name, lines, engine_result(lines, request.visit_date.year))


def engine_result(lines: tuple[SelfPayLine, ...], year: int) -> SettlementResult:
    """The settlement of a self-pay visit in the engine's shape: everything is the patient's, in
    cash (全自费), nothing from a fund or an account (so slips and shift totals read it as any)."""
    total = sum((line.amount for line in lines), ZERO)
    zero = dict.fromkeys(MONEY_FIELDS, ZERO)
    money = {
        **zero,
        "medfee_sumamt": total,
        "fulamt_ownpay_amt": total,
        "psn_part_amt": total,
        "psn_cash_pay": total,
    }
    return SettlementResult(
        policy=SELF_PAY,
        policy_version=VERSION,
        pool_prop_selfpay=ZERO,
        mulaid=(),
        ytd=Ytd(year),
        pooling_applies=False,
        pooling_reason="自费：不使用医保",
        trace=(("自费", f"cash {fmt(total)}"),),
        **money,
    )


def settle(
    db: Database,
    ctx: Actor,
    request: SelfPayRequest,
    *,
    now: dt.datetime | None = None,
    tender: str = "cash",
    tendered: Decimal | None = None,
) -> Settled:
    """Record a self-pay visit in one transaction: the settlement and its audit entry; no money
    moves in any account and nothing is queued for the centre."""
    ctx.require_settle(request.med_type)
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        state = counter_state(session, ctx)
        person, name, certno = _payer(session, request)
        lines = _lines(session, request.lines)
        total = sum((line.amount for line in lines), ZERO)
        if tendered is not None:
            if tender != "cash":
                raise ServiceError(f"实收金额只用于现金支付（本次为{TENDERS[tender]}）")
            if tendered != cents(tendered) or tendered < total:
                raise ServiceError(f"实收 {fmt(tendered)} 少于应收现金 {fmt(total)}")
        inst = state.institution
        setl_no = numbers.settlement_number(
            inst, numbers.take(session, inst, {"settlement": 1})["settlement"]
        )
        result = engine_result(lines, request.visit_date.year)
        row: dict[str, Any] = dict(
            setl_no=setl_no,
            kind="settle",
            reverses_id=None,
            institution_id=inst.id,
            person_id=person.id if person else None,
            med_type=request.med_type,
            visit_date=request.visit_date,
            settled_at=at,
            cashier=ctx.cashier,
            approver=None,
            counter=ctx.counter,
            policy=SELF_PAY,
            policy_version=VERSION,
            medfee_sumamt=total,
            fund_pay_sumamt=ZERO,
            hifp_pay=ZERO,
            acct_pay=ZERO,
            acct_mulaid_pay=ZERO,
            psn_cash_pay=total,
            claim_json=json.dumps(
                {
                    "self_pay": True,
                    "items": [
                        {"code": ln.code, "name": ln.name, "class": "C", "amount": fmt(ln.amount)}
                        for ln in lines
                    ],
                },
                ensure_ascii=False,
            ),
            result_json=json.dumps(
                dict(
                    result.to_json(),
                    lines=[{"code": ln.code, "cnt": str(ln.quantity), "pric": str(ln.price)} for ln in lines],
                ),
                ensure_ascii=False,
            ),
            shift_id=state.shift_id,
            business_day=day_after_close(at, state.last_closed),
            tender=tender,
            tendered=tendered,
            visit_json=None,
            payer_name=None if person else name,
            payer_certno=None if person else (certno or None),
        )
        row["id"] = settlement_id = session.execute(_INSERT_SETTLEMENT, row).scalar_one()
        _audit_money(session, ctx, "settle", row, [], [], at, head=state.audit_head, self_pay=True)
    return Settled(settlement_id, setl_no, at, result, "")
