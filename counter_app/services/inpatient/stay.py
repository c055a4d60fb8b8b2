"""The stay: admission with a deposit (2401), the fees posted to it (2301, a correction cancels
what it corrects: 2302), and the stay as the counter shows it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ... import identity, infno, labels
from ...engine.money import ZERO, cents, fmt
from ...store import Database
from ...store.models import (
    Admission,
    AdmissionFee,
    CatalogueItem,
    DepositEntry,
    Institution,
    Outbox,
    Person,
)
from .. import clinical, national_catalogue, numbers, price_list, upstream
from ..actor import Actor
from ..audit import record
from ..errors import NotFound, ServiceError, Unmapped
from ..institutions import by_code as _institution
from ..settlement import (
    FeeLine,
)
from ..shift import require_shift
from ..tenders import TENDERS

INPATIENT = "21"


@dataclass(frozen=True)
class StayFee:
    code: str
    name: str
    cls: str
    price: Decimal
    quantity: Decimal
    centre: dict[str, Any] = field(default_factory=dict)  # how the centre classed its uploaded lines

    @property
    def amount(self) -> Decimal:
        return cents(self.price * self.quantity)

    @property
    def centre_note(self) -> str:
        """What the centre classed as self-pay or over-limit on this item, in words ("" when nothing)."""
        parts = [
            f"{labels.AMOUNT_NAMES[k]} {fmt(self.centre[k])}"
            for k in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt")
            if self.centre.get(k)
        ]
        if not self.centre:
            return "待上传"
        return "，".join(parts) or "全部符合范围"


@dataclass(frozen=True)
class Stay:
    adm_no: str
    person_id: int
    psn_no: str
    insutype: str
    name: str
    masked_certno: str
    admitted_at: dt.datetime
    deposit: Decimal
    deposit_tender: str | None
    fees: tuple[StayFee, ...]  # not yet settled (an interim settlement took the earlier ones)
    visit: clinical.Visit | None = None  # department, doctor and diagnoses given at admission

    @property
    def fees_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), ZERO)


def _open_admission(session: Session, inst_id: int, person_id: int) -> Admission | None:
    return session.scalar(
        select(Admission).where(
            Admission.person_id == person_id,
            Admission.institution_id == inst_id,
            Admission.status == "admitted",
        )
    )


def _classified(session: Session, adm_no: str) -> dict[str, dict[str, Any]]:
    """The centre's answer per uploaded line (2301), by feedetl_sn."""
    out: dict[str, dict[str, Any]] = {}
    for response in session.scalars(
        select(Outbox.response).where(
            Outbox.visit_key == adm_no, Outbox.infno == infno.INPATIENT_FEE_UPLOAD, Outbox.status == "sent"
        )
    ):
        for line in (json.loads(response or "{}", parse_float=Decimal).get("output") or {}).get(
            "result"
        ) or []:
            out[str(line.get("feedetl_sn"))] = line
    return out


def _live_lines(rows: list[AdmissionFee]) -> list[AdmissionFee]:
    """Rows whose uploaded line stands: not cancelled by a later correction, not yet settled."""
    cancelled = {sn for r in rows if r.cancels for sn in r.cancels.split(",")}
    return [r for r in rows if r.feedetl_sn and r.feedetl_sn not in cancelled and r.settlement_id is None]


def _stay(session: Session, adm: Admission) -> Stay:
    """The stay as it stands: deposit balance, and the unsettled fee lines summed per item."""
    deposits = session.execute(
        select(DepositEntry.amount, DepositEntry.tender)
        .where(DepositEntry.admission_id == adm.id)
        .order_by(DepositEntry.id)
    ).all()
    rows = list(
        session.scalars(
            select(AdmissionFee).where(AdmissionFee.admission_id == adm.id).order_by(AdmissionFee.id)
        )
    )
    quantities: dict[str, Decimal] = {}  # exact decimal text in the store: summed here, not in SQL
    for row in rows:
        if row.settlement_id is None:
            quantities[row.code] = quantities.get(row.code, Decimal(0)) + row.quantity
    centre = _classified(session, adm.adm_no)
    by_code: dict[str, dict[str, Any]] = {}
    for row in _live_lines(rows):
        if row.feedetl_sn in centre:
            line, mine = centre[row.feedetl_sn], by_code.setdefault(row.code, {})
            for key in ("fulamt_ownpay_amt", "overlmt_amt", "preselfpay_amt", "inscp_scp_amt"):
                mine[key] = mine.get(key, ZERO) + Decimal(line.get(key, 0))
    items = {
        c.code: c for c in session.scalars(select(CatalogueItem).where(CatalogueItem.code.in_(quantities)))
    }
    fees = tuple(
        StayFee(code, items[code].name, items[code].cls, items[code].price, qty, by_code.get(code, {}))
        for code, qty in quantities.items()
        if qty
    )
    person = adm.person
    return Stay(
        adm.adm_no,
        person.id,
        person.psn_no,
        person.insutype,
        person.name,
        identity.mask(person.certno),
        adm.admitted_at,
        sum((a for a, _ in deposits), ZERO),
        deposits[0][1] if deposits else None,
        fees,
        clinical.visit_of(adm.visit_json),
    )


def current_stay(db: Database, ctx: Actor, person_id: int) -> Stay | None:
    with db.sessions() as session:
        adm = _open_admission(session, _institution(session, ctx.institution_code).id, person_id)
        return _stay(session, adm) if adm else None


def admit(
    db: Database,
    ctx: Actor,
    person_id: int,
    deposit: Decimal,
    *,
    tender: str = "cash",
    now: dt.datetime | None = None,
    cert_type: str = "",
    cert_no: str = "",
    dept_code: str = "",
    doctor_code: str = "",
    diagnoses: tuple[str, ...] = (),
) -> str:
    """Admission with its deposit, and its 2401 queued; the person is hospitalized from now (WH-22 (2)).
    The stay's department, doctor and admission diagnoses (clinical.resolve: the defaults where
    none is named) go into 2401, each fee line's ordering department and doctor, and 2402."""
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
        visit = clinical.resolve(session, inst, "21", dept_code, doctor_code, diagnoses)
        serial = numbers.next_value(session, inst, "admission")
        adm = Admission(
            adm_no=f"{inst.code}Z{serial:08d}",
            person_id=person_id,
            institution_id=inst.id,
            admitted_at=at,
            admitted_by=ctx.cashier,
            status="admitted",
            visit_json=json.dumps(visit.to_json(), ensure_ascii=False),
        )
        session.add(adm)
        session.flush()
        person.hospitalized = True
        taken = []
        if deposit:
            taken.append(
                DepositEntry(
                    admission_id=adm.id,
                    amount=deposit,
                    kind="taken",
                    at=at,
                    cashier=ctx.cashier,
                    receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                    shift_id=shift.id,
                    tender=tender,
                )
            )
            session.add(taken[0])
        upstream.queue_admission(
            session,
            inst,
            person,
            adm_no=adm.adm_no,
            cert_type=cert_type,
            cert_no=cert_no,
            operator=ctx.cashier,
            at=at,
            visit=visit,
        )
        record(
            session,
            ctx,
            "admit",
            adm.adm_no,
            at=at,
            after={"deposit": str(deposit), "tender": tender},
            covers={"deposit_entry": taken},
        )
        return adm.adm_no


def _admission(session: Session, ctx: Actor, adm_no: str) -> Admission:
    adm = session.scalar(
        select(Admission)
        .join(Institution)
        .where(Admission.adm_no == adm_no, Institution.code == ctx.institution_code)
    )
    if adm is None:
        raise NotFound(f"本院没有住院号 {adm_no}")
    if adm.status != "admitted":
        raise ServiceError(f"住院号 {adm_no} 已出院结算")
    return adm


def post_fee(
    db: Database, ctx: Actor, adm_no: str, code: str, quantity: Decimal, *, now: dt.datetime | None = None
) -> None:
    """A fee line for the stay, queued as 2301; a negative quantity corrects the item's unsettled
    lines (never below zero): they are cancelled (2302) and what is left goes up as one line."""
    ctx.require("settle_inpatient")
    with db.transaction() as session:
        adm = _admission(session, ctx, adm_no)
        item = session.scalar(select(CatalogueItem).where(CatalogueItem.code == code))
        if item is None:
            raise NotFound(f"目录中没有编码 {code}")
        day = (now or dt.datetime.now()).date()
        held = national_catalogue.terms_on(session, [item.national_code or ""], day)
        why = price_list.unmapped_reason(item.national_code, held.get(item.national_code or ""))
        if why and quantity > 0:
            raise Unmapped(f"{item.name}（{code}）：{why}，不能记入医保住院费用", code)
        if not quantity or abs(quantity) > Decimal(9999):
            raise ServiceError(f"数量应不为 0 且不超过 9999（{quantity}）")
        rows = list(
            session.scalars(
                select(AdmissionFee)
                .where(AdmissionFee.admission_id == adm.id, AdmissionFee.code == code)
                .order_by(AdmissionFee.id)
            )
        )
        total = sum((r.quantity for r in rows if r.settlement_id is None), Decimal(0))
        if total + quantity < 0:
            raise ServiceError(f"冲减后 {code} 的数量将小于 0（未结算的已记 {total}）")
        at = now or dt.datetime.now()
        inst = _institution(session, ctx.institution_code)
        serial = (
            session.execute(
                select(func.count()).select_from(AdmissionFee).where(AdmissionFee.admission_id == adm.id)
            ).scalar_one()
            + 1
        )
        line_qty = quantity if quantity > 0 else total + quantity
        cancels = [] if quantity > 0 else [r.feedetl_sn for r in _live_lines(rows)]
        sn = f"{adm_no}F{serial:04d}" if line_qty > 0 else None
        session.add(
            AdmissionFee(
                admission_id=adm.id,
                code=code,
                quantity=quantity,
                posted_at=at,
                posted_by=ctx.cashier,
                feedetl_sn=sn,
                line_quantity=line_qty if sn else None,
                cancels=",".join(c for c in cancels if c) or None,
            )
        )
        line = FeeLine(
            code,
            item.name,
            item.kind,
            item.cls,
            line_qty,
            item.price,
            cents(item.price * line_qty),
            item.national_code or "",
        )
        upstream.queue_fee(
            session,
            inst,
            adm.person,
            adm_no=adm_no,
            sn=sn,
            fee=line,
            cancels=[c for c in cancels if c],
            operator=ctx.cashier,
            at=at,
            visit=clinical.visit_of(adm.visit_json),
        )
        record(
            session,
            ctx,
            "post_fee" if quantity > 0 else "correct_fee",
            adm_no,
            at=at,
            before={"quantity": str(total)},
            after={"code": code, "quantity": str(total + quantity)},
        )
