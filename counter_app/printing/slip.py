"""What a settlement slip says, independent of how it is drawn.

`load_slip` reads one settlement (or refund) from the store into a `Slip`; the PDF renderer
(`pdf.py`) and the Qt printer renderer (`ui/slip_printer.py`) both draw the same `Slip`, so a slip
printed on paper and the PDF kept on disk never disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .. import identity, infno, labels
from ..engine.money import ZERO, fmt
from ..engine.settlement import MONEY_FIELDS
from ..services.actor import Actor
from ..services.audit import record
from ..services.clinical import Visit, visit_of
from ..services.elsewhere import POLICY_PREFIX as ELSEWHERE_POLICY
from ..services.errors import NotFound
from ..services.settlement import INPATIENT_MED_TYPES, SELF_PAY, entered_lines
from ..services.tenders import MIXED, TENDERS, parts_of, words
from ..store import Database
from ..store.models import (
    Admission,
    CentreResult,
    DepositEntry,
    Outbox,
    Person,
    Settlement,
    SlipPrint,
    Staff,
    YearTotal,
)


@dataclass(frozen=True, slots=True)
class SlipItem:
    code: str
    name: str
    amount: Decimal
    quantity: Decimal | None = None  # None on settlements made before lines were kept
    price: Decimal | None = None


@dataclass(frozen=True, slots=True)
class SlipProvider:
    masked_name: str
    relation: str  # Chinese, the provider's relation to the patient
    paid: Decimal
    balance_after: Decimal


@dataclass(frozen=True, slots=True)
class Slip:
    title: str
    marks: tuple[str, ...]  # 退费 / 补打 (reprint) stamps
    institution: str
    institution_code: str  # fixmedins_code
    psn_no: str
    insuplc_admdvs: str  # 参保地 (division code)
    mdtrt_id: str  # 就诊ID, from the centre; 待上传 while the message waits
    setl_id: str  # 结算ID, the same
    tender: str  # how the cash part was paid, in words
    tendered: Decimal | None  # cash handed over, when typed
    change: Decimal | None
    setl_no: str
    slip_no: str
    reverses_setl_no: str | None
    settled_at: dt.datetime
    counter: str
    cashier: str
    approver: str | None
    patient_name: str
    masked_certno: str
    insutype: str
    psn_type: str
    med_type: str
    groups: tuple[tuple[str, tuple[SlipItem, ...], Decimal], ...]  # class name, items, subtotal
    amounts: tuple[tuple[str, Decimal], ...]  # the summary rows, in the order printed
    own_paid: Decimal
    own_balance_after: Decimal
    providers: tuple[SlipProvider, ...]
    mulaid_total: Decimal
    cash: Decimal
    ytd_year: int
    ytd_deductible: Decimal
    ytd_pooled: Decimal
    deductible: Decimal | None
    annual_cap: Decimal | None
    policy: str
    pooling_note: str
    pooling_title: str  # 门诊共济, or 住院统筹 where the centre computed it
    qr_text: str
    visit_line: str = ""  # department, doctor and diagnoses (issue 24); "" before they were kept
    self_pay: bool = False  # 自费: a receipt, nothing of the insurance
    notes: tuple[str, ...] = ()  # what else happened: a refund's reason, a partial refund's lines


# The answers a slip reads the centre's ids from: an outpatient or pharmacy settlement or its cancel.
OUTPATIENT_ANSWERS = (
    infno.OUTPATIENT_SETTLE,
    infno.PHARMACY_SETTLE,
    infno.OUTPATIENT_CANCEL,
    infno.PHARMACY_CANCEL,
)


def fmt_or_dash(amount: Decimal | None) -> str:
    """A slip's amount as printed; "—" where the slip has none (no change given, no cap)."""
    return fmt(amount) if amount is not None else "—"


def _sign(kind: str, value: Decimal) -> Decimal:
    return ZERO - value if kind == "refund" else value


def load_slip(db: Database, setl_no: str, *, copy: int | None = None) -> Slip:
    """The slip of one settlement; `copy` > 1 marks it a reprint (defaults to the prints so far + 1)."""
    from ..policies import load_pack

    with db.sessions() as s:
        row = s.scalar(select(Settlement).where(Settlement.setl_no == setl_no))
        if row is None:
            raise LookupError(f"没有结算单号 {setl_no}")
        person = row.person
        institution = row.institution.name
        claim = json.loads(row.claim_json)
        result = json.loads(row.result_json)
        reverses = s.get_one(Settlement, row.reverses_id).setl_no if row.reverses_id else None
        if copy is None:
            copy = (
                s.scalar(select(func.max(SlipPrint.copy)).where(SlipPrint.settlement_id == row.id)) or 0
            ) + 1
        provider_names = dict(
            s.execute(
                select(Person.psn_no, Person.name).where(
                    Person.psn_no.in_([m["psn_no"] for m in result["mulaid"]])
                )
            )
            .tuples()
            .all()
        )
        approver_name = (
            s.scalar(select(Staff.name).where(Staff.staff_no == row.approver)) if row.approver else None
        )
        cashier_name = s.scalar(select(Staff.name).where(Staff.staff_no == row.cashier)) or row.cashier
        inst = row.institution
        mdtrt_id, setl_id = _centre_ids(s, row)
        paid_by = parts_of(s, [row.id]).get(row.id) if row.tender == MIXED else None
        ytd_now = _ytd_as_of(s, row, result["ytd"]["year"]) if row.kind == "refund" else None
        stay_notes = _stay_notes(s, row) if row.med_type in INPATIENT_MED_TYPES else ()
    kind = row.kind
    money = {k: Decimal(result[k]) for k in MONEY_FIELDS}
    by_class: dict[str, list[SlipItem]] = {}
    for item, line in entered_lines(claim, result):
        by_class.setdefault(item["class"], []).append(
            SlipItem(
                item["code"],
                item["name"],
                _sign(kind, Decimal(item["amount"])),
                Decimal(line["cnt"]) if line else None,
                Decimal(line["pric"]) if line else None,
            )
        )
    self_pay = row.policy == SELF_PAY
    groups = tuple(
        ("自费项目" if self_pay else labels.CLASS[c], tuple(items), sum((i.amount for i in items), ZERO))
        for c, items in sorted(by_class.items())
    )
    copay = money["inscp_scp_amt"] - money["act_pay_dedc"] - money["hifp_pay"]
    amounts = (
        ("医疗费总额", money["medfee_sumamt"]),
        ("全自费", money["fulamt_ownpay_amt"]),
        ("超限价自费", money["overlmt_selfpay"]),
        ("先行自付（乙类）", money["preselfpay_amt"]),
        ("符合范围费用", money["inscp_scp_amt"]),
        ("本次起付线", money["act_pay_dedc"]),
        ("统筹基金支付", money["hifp_pay"]),
        ("统筹共付（个人）", copay),
        ("个人负担", money["psn_part_amt"]),
    )
    providers = tuple(
        SlipProvider(
            labels.mask_name(provider_names.get(m["psn_no"], m["psn_no"])),
            labels.RELATION[m["relation"]],
            Decimal(m["paid"]),
            Decimal(m["balc"]),
        )
        for m in result["mulaid"]
    )
    elsewhere = row.policy.startswith(
        ELSEWHERE_POLICY
    )  # settled by the centre, under the patient's region's policy
    pack = None if elsewhere or self_pay else load_pack(row.policy)
    insured = None if self_pay else person  # whose insurance the slip shows: none on a self-pay receipt
    employee = insured is not None and insured.insutype == "310"
    inpatient = row.med_type in INPATIENT_MED_TYPES
    # WH-2: the outpatient year totals; a discharge's pooling is the centre's (no outpatient rows)
    period = pack.pool_for(row.visit_date) if pack is not None and employee and not inpatient else None
    marks = (
        (("退费",) if kind == "refund" else ())
        + (("自费",) if self_pay else ())
        + (("异地",) if elsewhere else ())
        + (("补打",) if copy > 1 else ())
    )
    ytd = result["ytd"]
    name = person.name if person is not None else (row.payer_name or "")
    certno = person.certno if person is not None else (row.payer_certno or "")
    if elsewhere:
        policy = f"异地就医：参保地 {row.policy.removeprefix(ELSEWHERE_POLICY)} 政策，医保中心结算"
    elif pack is not None and inpatient:
        policy = "住院：由医保中心按住院政策结算（不是门诊共济）"
    elif pack is not None:
        policy = pack.short_name or pack.name
    else:
        policy = "自费：未使用医疗保险"
    return Slip(
        title=("自费收费收据" if self_pay else "医疗保险结算单") + ("（退费）" if kind == "refund" else ""),
        marks=marks,
        institution=institution,
        institution_code=inst.code,
        psn_no=insured.psn_no if insured else "",
        insuplc_admdvs=(insured.insuplc_admdvs or inst.admdvs)
        if insured
        else "",  # 参保地: 1101's, else local
        mdtrt_id=mdtrt_id,
        setl_id=setl_id,
        tender=words(paid_by) if paid_by else TENDERS.get(row.tender, row.tender),
        tendered=row.tendered,
        change=row.tendered - money["psn_cash_pay"] if row.tendered is not None else None,
        setl_no=row.setl_no,
        slip_no=f"{row.setl_no}-{copy:02d}",
        reverses_setl_no=reverses,
        settled_at=row.settled_at,
        counter=row.counter,
        cashier=cashier_name,
        approver=f"{approver_name or row.approver}（{row.approver}）" if row.approver else None,
        patient_name=name,
        masked_certno=identity.mask(certno) if certno else "—",
        insutype=labels.INSUTYPE.get(insured.insutype, insured.insutype) if insured else "自费",
        psn_type=labels.PSN_TYPE.get(insured.psn_type, insured.psn_type) if insured else "",
        med_type=labels.MED_TYPE.get(row.med_type, row.med_type),
        groups=groups,
        amounts=amounts,
        own_paid=money["acct_pay"] - money["acct_mulaid_pay"],
        own_balance_after=money["balc"],
        providers=providers,
        mulaid_total=money["acct_mulaid_pay"],
        cash=money["psn_cash_pay"],
        ytd_year=ytd["year"],
        # a refund's slip: the year's totals as the refund left them, not the original's
        ytd_deductible=ytd_now[0] if ytd_now else Decimal(ytd["deductible_paid"]),
        ytd_pooled=ytd_now[1] if ytd_now else Decimal(ytd["outpatient_pool_paid"]),
        deductible=period.deductible.value if period else None,
        annual_cap=period.annual_cap.value if period else None,
        policy=policy,
        # the patient reads the words; the rule ids stay on screen (tooltip) and in the trace
        pooling_note=labels.without_rule_ids(
            labels.pooling_reason(result["pooling"]["reason"], result["pooling"]["applies"])
        )[0],
        pooling_title=labels.pooling_title(result["pooling"]["reason"]),
        qr_text=row.setl_no,
        visit_line=_visit_line(visit_of(row.visit_json)),
        self_pay=self_pay,
        notes=stay_notes + _notes(result),
    )


def _notes(result: dict) -> tuple[str, ...]:
    """A refund's reason and a partial refund's story, as both slips tell it."""
    notes = []
    if result.get("refund_reason"):
        notes.append(f"退费原因：{result['refund_reason']}")
    if result.get("partial"):
        notes.append(f"部分退费：退回 {'、'.join(result['partial']['returned'])}，其余项目已重新结算")
    if result.get("replaces"):
        notes.append(
            f"部分退费后重新结算：原结算单 {result['replaces']}，退费单 {result.get('partial_refund', '')}"
        )
    return tuple(notes)


def _stay_notes(session: Session, row: Settlement) -> tuple[str, ...]:
    """A discharge slip's stay: its number and dates, and what the deposit did (issue 27)."""
    settled = row.reverses_id or row.id
    stay = session.scalar(select(Admission).where(Admission.settlement_id == settled))
    if stay is None:
        return ()
    out = [
        f"住院号 {stay.adm_no}　入院 {stay.admitted_at:%Y-%m-%d}"
        + (f"　出院 {stay.discharged_at:%Y-%m-%d}" if stay.discharged_at else "")
    ]
    entries = session.execute(
        select(DepositEntry.kind, func.sum(DepositEntry.amount))
        .where(DepositEntry.admission_id == stay.id)
        .group_by(DepositEntry.kind)
    ).all()
    by_kind = {kind: Decimal(total) for kind, total in entries}
    taken = by_kind.get("taken", ZERO)
    if taken:
        applied, back = -by_kind.get("applied", ZERO), -by_kind.get("refunded", ZERO)
        line = f"押金：已交 {fmt(taken)}，抵扣 {fmt(applied)}"
        if back:
            line += f"，退还 {fmt(back)}"
        out.append(line)
    return tuple(out)


def _ytd_as_of(session: Session, row: Settlement, year: int) -> tuple[Decimal, Decimal] | None:
    """The person's year totals after `row` (the ledger's rows up to it): what a refund left."""
    if row.person_id is None:
        return None
    found = session.execute(
        select(
            func.coalesce(func.sum(YearTotal.deductible_paid), ZERO).label("deductible"),
            func.coalesce(func.sum(YearTotal.outpatient_pool_paid), ZERO).label("pooled"),
        ).where(
            YearTotal.person_id == row.person_id,
            YearTotal.year == year,
            or_(YearTotal.settlement_id.is_(None), YearTotal.settlement_id <= row.id),
        )
    ).one()
    return Decimal(found.deductible), Decimal(found.pooled)


def _visit_line(visit: Visit | None) -> str:
    """科室 · 医师 · 诊断, as the A5 slip prints them; the usual diagnosis is said to be one."""
    if visit is None or not (visit.dept_name or visit.diagnoses):
        return ""
    parts = [
        f"科室 {visit.dept_name}" if visit.dept_name else "",
        f"医师 {visit.doctor_name}" if visit.doctor_name else "",
    ]
    if visit.diagnoses:
        named = "、".join(f"{d.code} {d.name}" for d in visit.diagnoses)
        parts.append(f"诊断 {named}" + ("（科室常用诊断）" if visit.usual_diagnosis else ""))
    return "　".join(p for p in parts if p)


AWAITING = "待上传"


def _centre_ids(session: Session, row: Settlement) -> tuple[str, str]:
    """(mdtrt_id, setl_id) the centre gave this settlement or refund; 待上传 while it has not."""
    result = session.scalar(select(CentreResult).where(CentreResult.settlement_id == row.id))
    if result is not None:
        return result.mdtrt_id or AWAITING, result.setl_id or AWAITING
    answer = session.scalar(
        select(Outbox.response).where(
            Outbox.settlement_id == row.id,
            Outbox.status == "sent",
            Outbox.infno.in_(OUTPATIENT_ANSWERS),
        )
    )
    info = (json.loads(answer).get("output") or {}).get("setlinfo") or {} if answer else {}
    return str(info.get("mdtrt_id") or AWAITING), str(info.get("setl_id") or AWAITING)


def print_permission(copy: int) -> str:
    """The first copy is a print; every later one a reprint (marked 补打), a permission of its own."""
    return "print" if copy == 1 else "reprint"


def record_print(
    db: Database, actor: Actor, setl_no: str, copy: int, target: str, *, now: dt.datetime | None = None
) -> None:
    """Log a print after it succeeded; a failed print logs nothing, so the next is not a reprint."""
    actor.require(print_permission(copy))
    at = now or dt.datetime.now()
    with db.transaction() as s:
        settlement_id = s.scalar(select(Settlement.id).where(Settlement.setl_no == setl_no))
        if settlement_id is None:
            raise NotFound(f"没有结算单号 {setl_no}")
        s.add(
            SlipPrint(
                settlement_id=settlement_id,
                copy=copy,
                printed_at=at,
                printed_by=actor.staff_no,
                target=target[:100],
            )
        )
        record(
            s, actor, print_permission(copy), f"{setl_no}-{copy:02d}", at=at, after={"target": target[:100]}
        )
