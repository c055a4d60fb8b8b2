"""Inpatient stays: admission with a deposit (押金), fees posted during the stay, and the discharge
settlement (medical type 21, the year of the discharge date, decision 6) with the deposit applied.

While admitted the person is marked hospitalized, so outpatient pooling is refused for them
(WH-22 (2)). The discharge draws the own account and then family accounts (HF-4 covers inpatient
costs); a fund payment comes only from a policy pack with an inpatient section, and no pack has
one yet, so the engine pays none and says so. The deposit covers the cash part first; what is
left of it is paid back, or what is missing is collected. All of that is one transaction.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import identity
from ..engine.money import ZERO, cents
from ..store import Database
from ..store.models import Admission, AdmissionFee, CatalogueItem, DepositEntry, Institution, Person
from . import numbers
from .actor import Actor
from .audit import record
from .errors import NotFound, ServiceError
from .settlement import ClaimLine, ClaimRequest, Preview, Settled, build_claim, _run_engine, settle_in
from .shift import TENDERS, require_shift

INPATIENT = "21"


@dataclass(frozen=True)
class FeeLine:
    code: str
    name: str
    cls: str
    price: Decimal
    quantity: Decimal

    @property
    def amount(self) -> Decimal:
        return cents(self.price * self.quantity)


@dataclass(frozen=True)
class Stay:
    adm_no: str
    person_id: int
    name: str
    masked_certno: str
    admitted_at: dt.datetime
    deposit: Decimal
    deposit_tender: str | None
    fees: tuple[FeeLine, ...]

    @property
    def fees_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), ZERO)


@dataclass(frozen=True)
class DischargePreview:
    stay: Stay
    preview: Preview
    to_collect: Decimal  # cash still owed after the deposit
    to_refund: Decimal  # deposit paid back


@dataclass(frozen=True)
class Discharged:
    settled: Settled
    applied: Decimal
    to_collect: Decimal
    to_refund: Decimal


def _institution(session: Session, code: str) -> Institution:
    inst = session.scalar(select(Institution).where(Institution.code == code))
    if inst is None:
        raise NotFound(f"未知的定点机构编码：{code}")
    return inst


def _open_admission(session: Session, inst_id: int, person_id: int) -> Admission | None:
    return session.scalar(select(Admission).where(Admission.person_id == person_id, Admission.institution_id == inst_id,
                                                  Admission.status == "admitted"))


def _stay(session: Session, adm: Admission) -> Stay:
    """The stay as it stands: deposit balance and fee lines summed per item, in posting order."""
    deposits = session.execute(select(DepositEntry.amount, DepositEntry.tender).where(
        DepositEntry.admission_id == adm.id).order_by(DepositEntry.id)).all()
    quantities: dict[str, Decimal] = {}  # exact decimal text in the store: summed here, not in SQL
    for code, qty in session.execute(select(AdmissionFee.code, AdmissionFee.quantity).where(
            AdmissionFee.admission_id == adm.id).order_by(AdmissionFee.id)):
        quantities[code] = quantities.get(code, Decimal(0)) + qty
    items = {c.code: c for c in session.scalars(select(CatalogueItem).where(CatalogueItem.code.in_(quantities)))}
    fees = tuple(FeeLine(code, items[code].name, items[code].cls, items[code].price, qty)
                 for code, qty in quantities.items() if qty)
    person = adm.person
    return Stay(adm.adm_no, person.id, person.name, identity.mask(person.certno), adm.admitted_at,
                sum((a for a, _ in deposits), ZERO), deposits[0][1] if deposits else None, fees)


def current_stay(db: Database, ctx: Actor, person_id: int) -> Stay | None:
    with db.sessions() as session:
        adm = _open_admission(session, _institution(session, ctx.institution_code).id, person_id)
        return _stay(session, adm) if adm else None


def admit(db: Database, ctx: Actor, person_id: int, deposit: Decimal, *, tender: str = "cash",
          now: dt.datetime | None = None) -> str:
    """Admission with its deposit; the person is hospitalized from now (WH-22 (2))."""
    ctx.require("settle_inpatient")
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    if not isinstance(deposit, Decimal) or deposit < 0 or deposit != cents(deposit):
        raise ServiceError(f"押金应为不小于 0 的金额（两位小数）：{deposit}")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        shift = require_shift(session, ctx)
        inst = _institution(session, ctx.institution_code)
        person = session.get(Person, person_id)
        if person is None:
            raise NotFound(f"未找到参保人（内部编号 {person_id}）")
        if _open_admission(session, inst.id, person_id):
            raise ServiceError(f"{person.name} 已在院，请先办理出院结算")
        serial = numbers.next_value(session, inst, "admission")
        adm = Admission(adm_no=f"{inst.code}Z{serial:08d}", person_id=person_id, institution_id=inst.id,
                        admitted_at=at, admitted_by=ctx.cashier, status="admitted")
        session.add(adm)
        session.flush()
        person.hospitalized = True
        taken = []
        if deposit:
            taken.append(DepositEntry(admission_id=adm.id, amount=deposit, kind="taken", at=at, cashier=ctx.cashier,
                                      receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                                      shift_id=shift.id, tender=tender))
            session.add(taken[0])
        record(session, ctx, "admit", adm.adm_no, at=at, after={"deposit": str(deposit), "tender": tender},
               covers={"deposit_entry": taken})
        return adm.adm_no


def _admission(session: Session, ctx: Actor, adm_no: str) -> Admission:
    adm = session.scalar(select(Admission).join(Institution).where(
        Admission.adm_no == adm_no, Institution.code == ctx.institution_code))
    if adm is None:
        raise NotFound(f"本院没有住院号 {adm_no}")
    if adm.status != "admitted":
        raise ServiceError(f"住院号 {adm_no} 已出院结算")
    return adm


def post_fee(db: Database, ctx: Actor, adm_no: str, code: str, quantity: Decimal,
             *, now: dt.datetime | None = None) -> None:
    """A fee line for the stay; a negative quantity corrects an earlier one, never below zero."""
    ctx.require("settle_inpatient")
    with db.transaction() as session:
        adm = _admission(session, ctx, adm_no)
        if session.scalar(select(CatalogueItem.id).where(CatalogueItem.code == code)) is None:
            raise NotFound(f"目录中没有编码 {code}")
        if not quantity or abs(quantity) > Decimal(9999):
            raise ServiceError(f"数量应不为 0 且不超过 9999（{quantity}）")
        total = sum(session.scalars(select(AdmissionFee.quantity).where(
            AdmissionFee.admission_id == adm.id, AdmissionFee.code == code)), Decimal(0))
        if total + quantity < 0:
            raise ServiceError(f"冲减后 {code} 的数量将小于 0（已记 {total}）")
        at = now or dt.datetime.now()
        session.add(AdmissionFee(admission_id=adm.id, code=code, quantity=quantity, posted_at=at,
                                 posted_by=ctx.cashier))
        record(session, ctx, "post_fee" if quantity > 0 else "correct_fee", adm_no, at=at,
               before={"quantity": str(total)}, after={"code": code, "quantity": str(total + quantity)})


def _request(stay: Stay, discharge_date: dt.date, med_type: str) -> ClaimRequest:
    if not stay.fees:
        raise ServiceError("本次住院没有记账费用，不能出院结算")
    return ClaimRequest(stay.person_id, tuple(ClaimLine(f.code, f.quantity) for f in stay.fees), discharge_date,
                        med_type=med_type)


def _deposit_split(deposit: Decimal, cash: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    applied = min(deposit, cash)
    return applied, cash - applied, deposit - applied


def discharge_preview(db: Database, ctx: Actor, adm_no: str, discharge_date: dt.date,
                      med_type: str = INPATIENT) -> DischargePreview:
    ctx.require("settle_inpatient")
    with db.sessions() as session:
        stay = _stay(session, _admission(session, ctx, adm_no))
        request = _request(stay, discharge_date, med_type)
        claim = build_claim(session, ctx, request)[0]
    preview = Preview(claim, _run_engine(claim))
    _, collect, refund = _deposit_split(stay.deposit, preview.result.psn_cash_pay)
    return DischargePreview(stay, preview, collect, refund)


def discharge(db: Database, ctx: Actor, adm_no: str, discharge_date: dt.date, confirmed: Preview,
              *, med_type: str = INPATIENT, tender: str = "cash", now: dt.datetime | None = None) -> Discharged:
    """Settle the stay and apply the deposit, in one transaction; the person is no longer hospitalized."""
    ctx.require("settle_inpatient")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        adm = _admission(session, ctx, adm_no)
        stay = _stay(session, adm)
        person = session.get(Person, adm.person_id)
        # the engine must see the discharge as an inpatient settlement, not an outpatient visit while admitted
        settled = settle_in(session, ctx, _request(stay, discharge_date, med_type), confirmed, at=at, tender=tender)
        applied, collect, refund = _deposit_split(stay.deposit, settled.result.psn_cash_pay)
        shift = require_shift(session, ctx)
        inst = _institution(session, ctx.institution_code)
        moved = []
        if applied:  # the cash part paid from the deposit: not collected again at the drawer
            moved.append(DepositEntry(admission_id=adm.id, amount=-applied, kind="applied", at=at, cashier=ctx.cashier,
                                     receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                                     shift_id=shift.id, tender=tender))
        if refund:  # the rest of the deposit goes back the way it came
            moved.append(DepositEntry(admission_id=adm.id, amount=-refund, kind="refunded", at=at, cashier=ctx.cashier,
                                     receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                                     shift_id=shift.id, tender=stay.deposit_tender or tender))
        session.add_all(moved)
        adm.status, adm.discharged_at, adm.settlement_id = "discharged", at, settled.settlement_id
        person.hospitalized = False
        record(session, ctx, "discharge", adm_no, at=at, before={"deposit": str(stay.deposit)},
               after={"setl_no": settled.setl_no, "applied": str(applied), "to_collect": str(collect),
                      "to_refund": str(refund)}, covers={"deposit_entry": moved})
        return Discharged(settled, applied, collect, refund)
