"""The stay settled with the centre: the centre's pricing (2402, 2303) and the local split of the
personal part (`discharge_preview`), the settlement (2304, reversed with 2601 when its answer
differs from what the patient confirmed), and its cancellation (2305).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select, update

from ... import labels
from ...engine import CentreFund
from ...engine.money import ZERO, fmt
from ...engine.settlement import MONEY_FIELDS
from ...store import Database
from ...store.models import (
    Admission,
    AdmissionFee,
    CentreResult,
    DepositEntry,
    Person,
)
from .. import numbers
from ..actor import Actor
from ..audit import record
from ..errors import RefundRefused, ServiceError, require_reason
from ..institutions import by_code as _institution
from ..settlement import (
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
from ..shift import require_shift
from ..staff import Approval, approval_for
from ..tenders import TENDERS
from .stay import INPATIENT, Stay, _admission, _stay

# What the centre decides in an inpatient settlement (the settlement's amounts up to the personal
# part); the account split after it is the counter's
CENTRE_PARTS = MONEY_FIELDS[: MONEY_FIELDS.index("psn_part_amt") + 1]
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
