"""Inpatient stays, settled with the insurance centre: admission (2401) with a deposit (押金), fee
lines posted during the stay (2301, a correction cancels what it corrects: 2302), and the
settlement at discharge (2402, 2303 → 2304) or part way through a long stay (`interim`,
mid_setl_flag 1), cancelled with a supervisor's approval (2305).

Admission and fee posting work offline: their messages queue. Inpatient benefits are the
centre's to compute, so a discharge needs its answer and says so plainly when there is none,
keeping the stay and its deposit open. The centre's fund payment and personal part come back
from 2303; the embedded engine then draws the own account and family accounts for the personal
part by the same rules as outpatient (HF-4 covers inpatient costs); the deposit covers the cash
part, and the rest is paid back or collected. That is the preview the patient confirms. 2304
settles with it; if the centre's answer differs from the confirmed preview, nothing is recorded,
the centre's settlement is reversed (2601), and the new split is shown to confirm.

While admitted the person is marked hospitalized, so outpatient pooling is refused for them
(WH-22 (2)). The year is that of the discharge date (decision 6).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from .. import identity, labels
from ..engine import CentreFund
from ..engine.money import ZERO, cents, fmt
from ..store import Database
from ..store.models import (
    Admission,
    AdmissionFee,
    CatalogueItem,
    CentreResult,
    DepositEntry,
    Institution,
    Outbox,
    Person,
)
from . import clinical, national_catalogue, numbers, price_list, upstream
from .actor import Actor
from .audit import record
from .errors import CentreRefused as CentreRefused  # re-exported: the inpatient desk catches them
from .errors import CentreUnavailable as CentreUnavailable
from .errors import NotFound, RefundRefused, ServiceError, Unmapped, require_reason
from .institutions import by_code as _institution
from .settlement import (
    INPATIENT_MED_TYPES,
    ClaimLine,
    ClaimRequest,
    Preview,
    Settled,
    SplitChanged,
    _run_engine,
    build_claim,
    original_settlement,
    reverse_in,
    settle_in,
)
from .settlement import (
    FeeLine as UpstreamLine,
)
from .shift import require_shift
from .staff import Approval, approval_for
from .tenders import TENDERS

INPATIENT = "21"
# What the centre decides in an inpatient settlement; the account split after it is the counter's
CENTRE_PARTS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
)
COMPARED = (*CENTRE_PARTS, "acct_pay", "acct_mulaid_pay", "psn_cash_pay")


class CentreDisagrees(ServiceError):
    """The centre classed the stay's lines otherwise than the counter's catalogue does."""


@dataclass(frozen=True)
class StayClaim:
    """What the centre link needs to discharge, pre-settle or settle a stay (sync/inpatient_link.py)."""

    institution_code: str
    operator: str
    adm_no: str
    psn_no: str
    insutype: str
    endtime: str  # "" for an interim settlement
    medfee_sumamt: Decimal
    scope: dict[str, Decimal]
    use_account: bool
    interim: bool
    invono: str


class CentrePort(Protocol):
    """The insurance centre, as the inpatient counter needs it online (implemented in sync/)."""

    def flush(self, psn_no: str) -> None: ...  # send the person's queue now; CentreUnavailable if it cannot
    def discharge(self, stay: StayClaim) -> None: ...  # 2402
    def presettle(self, stay: StayClaim) -> dict[str, Any]: ...  # 2303 setlinfo
    def settle(self, stay: StayClaim, msgid: str) -> dict[str, Any]: ...  # 2304 setlinfo
    def reverse(self, stay: StayClaim, msgid: str) -> None: ...  # 2601, queued if the centre is away
    def cancel(self, stay: StayClaim, setl_id: str, discharged: bool) -> dict[str, Any]: ...  # 2305 (+ 2405)


@dataclass(frozen=True)
class FeeLine:
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
    fees: tuple[FeeLine, ...]  # not yet settled (an interim settlement took the earlier ones)
    visit: clinical.Visit | None = None  # department, doctor and diagnoses given at admission

    @property
    def fees_total(self) -> Decimal:
        return sum((f.amount for f in self.fees), ZERO)


@dataclass(frozen=True)
class DischargePreview:
    stay: Stay
    preview: Preview
    to_collect: Decimal  # cash still owed after the deposit
    to_refund: Decimal  # deposit paid back
    centre: dict[str, Any]  # the centre's 2303 setlinfo
    interim: bool = False
    day: dt.date | None = None


@dataclass(frozen=True)
class Discharged:
    settled: Settled
    applied: Decimal
    to_collect: Decimal
    to_refund: Decimal
    setl_id: str
    mdtrt_id: str


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
            Outbox.visit_key == adm_no, Outbox.infno == upstream.INPATIENT_FEE, Outbox.status == "sent"
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
        FeeLine(code, items[code].name, items[code].cls, items[code].price, qty, by_code.get(code, {}))
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
        line = UpstreamLine(
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


def _request(stay: Stay, day: dt.date, med_type: str, use_account: bool) -> ClaimRequest:
    if not stay.fees:
        raise ServiceError("本次住院没有未结算的记账费用，不能结算")
    return ClaimRequest(
        stay.person_id,
        tuple(ClaimLine(f.code, f.quantity) for f in stay.fees),
        day,
        med_type=med_type,
        use_own_account=use_account,
        use_family_account=use_account,
        visit=stay.visit,
    )


def _deposit_split(deposit: Decimal, cash: Decimal, interim: bool) -> tuple[Decimal, Decimal, Decimal]:
    """(applied, to collect, to pay back): an interim settlement keeps the rest for the stay."""
    applied = min(deposit, cash)
    return applied, cash - applied, ZERO if interim else deposit - applied


def _stay_claim(
    ctx: Actor, stay: Stay, day: dt.date, local: Any, *, use_account: bool, interim: bool, invono: str = ""
) -> StayClaim:
    return StayClaim(
        ctx.institution_code,
        ctx.cashier,
        stay.adm_no,
        stay.psn_no,
        stay.insutype,
        "" if interim else f"{day.isoformat()} 12:00:00",
        local.medfee_sumamt,
        {
            k: getattr(local, k)
            for k in ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
        },
        use_account,
        interim,
        invono,
    )


def _centre_fund(answer: dict[str, Any]) -> CentreFund:
    return CentreFund(
        Decimal(answer["fund_pay_sumamt"]),
        Decimal(answer["act_pay_dedc"]),
        Decimal(answer.get("pool_prop_selfpay") or 0),
        "医保中心结算：基金支付 "
        f"{fmt(Decimal(answer['fund_pay_sumamt']))}，起付线 {fmt(Decimal(answer['act_pay_dedc']))}",
    )


def _check_classes(local: Any, answer: dict[str, Any]) -> None:
    """The centre's classification of the stay's lines must be the counter's, or the split is not comparable."""
    keys = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
    wrong = [k for k in keys if Decimal(answer.get(k, -1)) != getattr(local, k)]
    if wrong:
        raise CentreDisagrees(
            "医保中心对本次费用的分类与本院目录不同："
            + "，".join(
                f"{labels.AMOUNT_NAMES[k]} 本院 {fmt(getattr(local, k))} 中心 {fmt(Decimal(answer.get(k, 0)))}"
                for k in wrong
            )
            + "。请核对目录后再结算"
        )


def discharge_preview(
    db: Database,
    ctx: Actor,
    adm_no: str,
    day: dt.date,
    centre: CentrePort,
    *,
    med_type: str = INPATIENT,
    interim: bool = False,
    use_account: bool = True,
) -> DischargePreview:
    """Ask the centre (after sending the stay's queue): discharge (2402, not for an interim
    settlement) and pre-settle (2303); split the personal part locally. Writes nothing locally."""
    ctx.require("settle_inpatient")
    with db.sessions() as session:
        adm = _admission(session, ctx, adm_no)
        psn_no = adm.person.psn_no
    centre.flush(psn_no)  # the stay's 2401 and 2301s first: the centre settles what it has
    with db.sessions() as session:
        stay = _stay(session, _admission(session, ctx, adm_no))
        request = _request(stay, day, med_type, use_account)
        claim = build_claim(session, ctx, request)[0]
    local = _run_engine(claim, CentreFund(ZERO, ZERO))  # the counter's own classification of the lines
    sc = _stay_claim(ctx, stay, day, local, use_account=use_account, interim=interim)
    if not interim:
        centre.discharge(sc)
    answer = centre.presettle(sc)
    _check_classes(local, answer)
    preview = Preview(claim, _run_engine(claim, _centre_fund(answer)))
    _, collect, refund = _deposit_split(stay.deposit, preview.result.psn_cash_pay, interim)
    return DischargePreview(stay, preview, collect, refund, answer, interim, day)


def _reserve_msgid(db: Database, code: str, at: dt.datetime) -> str:
    with db.transaction() as session:
        inst = _institution(session, code)
        return numbers.msgids(session, inst, at)[0]


def _differs(
    answer: dict[str, Any], confirmed: dict[str, Any], keys: tuple[str, ...]
) -> dict[str, list[str]]:
    return {
        k: [fmt(Decimal(confirmed[k])), fmt(Decimal(answer.get(k, 0)))]
        for k in keys
        if Decimal(answer.get(k, 0)) != Decimal(confirmed[k])
    }


class DischargeChanged(SplitChanged):
    """The centre's 2304 answer, or the accounts, differ from the confirmed preview: nothing was
    recorded (the centre's settlement is reversed); `discharge` holds the new preview to confirm."""

    def __init__(self, discharge: DischargePreview, why: str) -> None:
        super().__init__(discharge.preview)
        self.args = (f"{why}：未结算。请向参保人确认新的分摊后再结算",)
        self.discharge = discharge


def discharge(
    db: Database,
    ctx: Actor,
    adm_no: str,
    confirmed: DischargePreview,
    centre: CentrePort,
    *,
    med_type: str = INPATIENT,
    tender: str = "cash",
    now: dt.datetime | None = None,
) -> Discharged:
    """Settle the stay with the centre (2304) and record it with the deposit applied, in one local
    transaction; the person is no longer hospitalized (unless this was an interim settlement)."""
    ctx.require("settle_inpatient")
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    at = now or dt.datetime.now()
    day = confirmed.day or at.date()
    interim, use_account = confirmed.interim, confirmed.preview.claim.use_own_account
    with db.sessions() as session:
        stay = _stay(session, _admission(session, ctx, adm_no))

    def lines(s: Stay) -> list[tuple[str, Decimal, Decimal]]:
        return [(f.code, f.quantity, f.price) for f in s.fees]

    if lines(stay) != lines(confirmed.stay) or stay.deposit != confirmed.stay.deposit:
        raise ServiceError("本次住院的费用或押金在预结算后有变动，请重新预结算")
    msgid = _reserve_msgid(db, ctx.institution_code, at)
    local = confirmed.preview.result
    sc = _stay_claim(ctx, stay, day, local, use_account=use_account, interim=interim, invono=msgid[-20:])
    answer = centre.settle(sc, msgid)
    changed = _differs(answer, confirmed.centre, CENTRE_PARTS)
    if changed:
        centre.reverse(sc, msgid)
        request = _request(stay, day, med_type, use_account)
        with db.sessions() as session:
            claim = build_claim(session, ctx, request)[0]
        fresh = Preview(claim, _run_engine(claim, _centre_fund(answer)))
        _, collect, refund = _deposit_split(stay.deposit, fresh.result.psn_cash_pay, interim)
        raise DischargeChanged(
            DischargePreview(stay, fresh, collect, refund, answer, interim, day),
            "医保中心的结算结果与预结算不同（"
            + "，".join(f"{labels.AMOUNT_NAMES[k]} {a} → {b}" for k, (a, b) in changed.items())
            + "）",
        )
    try:
        return _record_discharge(
            db, ctx, adm_no, day, confirmed, answer, msgid, med_type=med_type, tender=tender, at=at
        )
    except SplitChanged as exc:  # the accounts moved since the preview (another counter drew them)
        centre.reverse(sc, msgid)
        _, collect, refund = _deposit_split(stay.deposit, exc.preview.result.psn_cash_pay, interim)
        raise DischargeChanged(
            DischargePreview(stay, exc.preview, collect, refund, answer, interim, day), "账户余额已变动"
        ) from None
    except BaseException:
        centre.reverse(sc, msgid)  # the centre settled what the counter could not record: undo it there
        raise


def _record_discharge(
    db: Database,
    ctx: Actor,
    adm_no: str,
    day: dt.date,
    confirmed: DischargePreview,
    answer: dict[str, Any],
    msgid: str,
    *,
    med_type: str,
    tender: str,
    at: dt.datetime,
) -> Discharged:
    interim = confirmed.interim
    with db.transaction() as session:
        adm = _admission(session, ctx, adm_no)
        stay = _stay(session, adm)
        person = session.get_one(Person, adm.person_id)
        request = _request(stay, day, med_type, confirmed.preview.claim.use_own_account)
        settled = settle_in(
            session, ctx, request, confirmed.preview, at=at, tender=tender, centre=_centre_fund(answer)
        )
        applied, collect, refund = _deposit_split(stay.deposit, settled.result.psn_cash_pay, interim)
        shift = require_shift(session, ctx)
        inst = _institution(session, ctx.institution_code)
        moved = []

        def deposit(amount: Decimal, kind: str, how: str) -> None:
            moved.append(
                DepositEntry(
                    admission_id=adm.id,
                    amount=amount,
                    kind=kind,
                    at=at,
                    cashier=ctx.cashier,
                    receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                    shift_id=shift.id,
                    tender=how,
                    settlement_id=settled.settlement_id,
                )
            )

        if applied:  # the cash part paid from the deposit: not collected again at the drawer
            deposit(-applied, "applied", tender)
        if refund:  # the rest of the deposit goes back the way it came
            deposit(-refund, "refunded", stay.deposit_tender or tender)
        session.add_all(moved)
        session.execute(
            update(AdmissionFee)
            .where(AdmissionFee.admission_id == adm.id, AdmissionFee.settlement_id.is_(None))
            .values(settlement_id=settled.settlement_id)
        )
        ours = settled.result.to_json()
        diff = _differs(answer, ours, COMPARED)
        session.add(
            CentreResult(
                settlement_id=settled.settlement_id,
                msgid=msgid,
                mdtrt_id=str(answer.get("mdtrt_id", "")),
                setl_id=str(answer.get("setl_id", "")),
                equal=not diff,
                differences=json.dumps(diff, ensure_ascii=False),
                setlinfo=json.dumps({k: str(v) for k, v in answer.items()}, ensure_ascii=False),
                received_at=at,
            )
        )
        if not interim:
            adm.status, adm.discharged_at, adm.settlement_id = "discharged", at, settled.settlement_id
            person.hospitalized = False
        record(
            session,
            ctx,
            "interim_settle" if interim else "discharge",
            adm_no,
            at=at,
            before={"deposit": str(stay.deposit)},
            after={
                "setl_no": settled.setl_no,
                "setl_id": str(answer.get("setl_id", "")),
                "applied": str(applied),
                "to_collect": str(collect),
                "to_refund": str(refund),
            },
            covers={"deposit_entry": moved},
        )
        return Discharged(
            settled, applied, collect, refund, str(answer.get("setl_id", "")), str(answer.get("mdtrt_id", ""))
        )


def cancel(
    db: Database,
    ctx: Actor,
    setl_no: str,
    approval: Approval,
    reason: str,
    centre: CentrePort,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Cancel an inpatient settlement with the centre (2305, and 2405 if it discharged the stay),
    then reverse it here: accounts, family accounts and deposit exactly; the stay is open again.
    Needs a supervisor's approval of this settlement. Returns the reversal's settlement number."""
    ctx.require("refund")
    approval = approval_for(approval, setl_no)
    require_reason(reason, "撤销原因", RefundRefused)
    at = now or dt.datetime.now()
    with db.sessions() as session:
        inst = _institution(session, ctx.institution_code)
        orig = original_settlement(session, inst, setl_no)
        if orig.med_type not in INPATIENT_MED_TYPES:
            raise RefundRefused(f"{setl_no} 不是住院结算")
        result = session.scalar(select(CentreResult).where(CentreResult.settlement_id == orig.id))
        adm = session.scalar(
            select(Admission)
            .join(AdmissionFee, AdmissionFee.admission_id == Admission.id)
            .where(AdmissionFee.settlement_id == orig.id)
            .limit(1)
        )
        person = session.get_one(Person, orig.person_id)
        if result is None or adm is None:
            raise RefundRefused(f"{setl_no} 没有医保中心的结算记录，不能撤销")
        discharged = adm.settlement_id == orig.id
        sc = StayClaim(
            ctx.institution_code,
            ctx.cashier,
            adm.adm_no,
            person.psn_no,
            person.insutype,
            "",
            orig.medfee_sumamt,
            {},
            True,
            not discharged,
            setl_no,
        )
        setl_id = result.setl_id
    centre.cancel(sc, setl_id, discharged)
    with db.transaction() as session:
        inst = _institution(session, ctx.institution_code)
        orig = original_settlement(session, inst, setl_no)
        reversal = reverse_in(session, ctx, inst, orig, approval, reason, at=at, upstream_cancel=False)
        shift = require_shift(session, ctx)
        adm = session.execute(select(Admission).where(Admission.adm_no == sc.adm_no)).scalar_one()
        moved = []
        for entry in session.scalars(
            select(DepositEntry).where(DepositEntry.settlement_id == orig.id).order_by(DepositEntry.id)
        ):
            moved.append(
                DepositEntry(
                    admission_id=adm.id,
                    amount=-entry.amount,
                    kind="reversed",
                    at=at,
                    cashier=ctx.cashier,
                    receipt_no=f"{adm.adm_no}-Y{numbers.next_value(session, inst, 'deposit'):06d}",
                    shift_id=shift.id,
                    tender=entry.tender,
                    settlement_id=reversal.settlement_id,
                )
            )
        session.add_all(moved)
        session.execute(
            update(AdmissionFee).where(AdmissionFee.settlement_id == orig.id).values(settlement_id=None)
        )
        if discharged:
            adm.status, adm.discharged_at, adm.settlement_id = "admitted", None, None
            session.get_one(Person, adm.person_id).hospitalized = True
        record(
            session,
            ctx,
            "inpatient_cancel",
            adm.adm_no,
            at=at,
            before={"setl_no": setl_no, "setl_id": setl_id},
            after={"reversal": reversal.setl_no, "reason": reason, "approver": approval.approver},
            covers={"deposit_entry": moved},
        )
        return reversal.setl_no
