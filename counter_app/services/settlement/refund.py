"""`refund`: a reversal that mirrors a settlement (ledger, year totals, outbox, audit); the original is
never edited or deleted. The inpatient and partial refunds share its steps.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, literal, select, union
from sqlalchemy.orm import Session, aliased

from ... import infno
from ...engine.money import ZERO, fmt
from ...store import Database
from ...store.models import (
    Account,
    Institution,
    LedgerEntry,
    Outbox,
    Person,
    Settlement,
    Shift,
    YearTotal,
)
from .. import ledger, numbers, tenders, upstream
from ..actor import Actor
from ..errors import NotFound, RefundRefused, require_reason
from ..shift import CounterState, counter_state, day_after_close
from ..staff import Approval, approval_for, consume_approval
from .record import _INSERT_SETTLEMENT, _INSERT_YEAR_TOTAL, _audit_money, _mirror, _post
from .request import INPATIENT_MED_TYPES, SELF_PAY, Refunded

log = logging.getLogger("counter_app.services.settlement")


def refund(
    db: Database,
    ctx: Actor,
    setl_no: str,
    approval: Approval,
    reason: str,
    *,
    now: dt.datetime | None = None,
    to_cash: bool = False,
) -> Refunded:
    """Reverse a settlement (decision 7): account entries, year totals, and a 2208 upstream.
    Needs the refund permission and a supervisor's approval of this settlement (staff.approve_refund);
    the cash part goes back by the original means, or all in cash with `to_cash`."""
    approval = refund_asked(ctx, setl_no, approval, reason)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        state, orig = outpatient_original(session, ctx, setl_no)
        to_centre = orig.policy != SELF_PAY  # a self-pay visit was never the centre's
        done = reverse_in(
            session,
            ctx,
            state.institution,
            orig,
            approval,
            reason,
            at=at,
            upstream_cancel=to_centre,
            state=state,
            to_cash=to_cash,
        )
    log.info(
        "refunded %s as %s at %s by %s, approved by %s",
        setl_no,
        done.setl_no,
        ctx.counter,
        ctx.staff_no,
        approval.approver,
    )
    return done


def entered_lines(
    claim: dict[str, Any], result: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """Each claim item of a stored settlement with its quantity and unit price as `settle_in` kept
    them in the result's "lines" (None for settlements from before they were kept)."""
    lines = result.get("lines") or []
    return [
        (item, lines[n] if n < len(lines) and lines[n]["code"] == item["code"] else None)
        for n, item in enumerate(claim["items"])
    ]


def refund_asked(ctx: Actor, setl_no: str, approval: Approval, reason: str) -> Approval:
    """What a refund (whole or of some lines) checks before its transaction: the role, the
    approval for this settlement, a reason."""
    ctx.require_role("refund")  # the staff row: in counter_state, in the refund's transaction
    approval = approval_for(approval, setl_no)
    require_reason(reason, "退费原因", RefundRefused)
    return approval


def outpatient_original(session: Session, ctx: Actor, setl_no: str) -> tuple[CounterState, Settlement]:
    """The counter's state and the settlement a refund reverses; an inpatient one is refused here
    (the inpatient counter cancels it with the centre online)."""
    state = counter_state(session, ctx)
    orig = original_settlement(session, state.institution, setl_no)
    if orig.med_type in INPATIENT_MED_TYPES:
        raise RefundRefused(f"{setl_no} 是住院结算，请在住院窗口撤销（须联网由医保中心撤销）")
    return state, orig


def original_settlement(session: Session, inst: Institution, setl_no: str) -> Settlement:
    """The settlement a refund or cancel reverses (its person loaded with it), refused if it is a
    refund or already reversed; one statement."""
    reversal = aliased(Settlement)
    found = session.execute(
        select(
            Settlement,
            Person,
            select(reversal.id)
            .where(reversal.reverses_id == Settlement.id)
            .scalar_subquery()
            .label("reversed_by"),
        )
        .outerjoin(Person, Person.id == Settlement.person_id)  # a self-pay patient may have none
        .where(Settlement.institution_id == inst.id, Settlement.setl_no == setl_no)
    ).first()
    if found is None:
        raise NotFound(f"本机构没有结算单号 {setl_no}")
    orig: Settlement = found.Settlement
    reversed_by = found.reversed_by
    if orig.kind != "settle":
        raise RefundRefused(f"{setl_no} 本身是一笔退费，不能再退")
    if reversed_by is not None:
        raise RefundRefused(f"结算 {setl_no} 已经退费")
    return orig


def reverse_in(
    session: Session,
    ctx: Actor,
    inst: Institution,
    orig: Settlement,
    approval: Approval,
    reason: str,
    *,
    at: dt.datetime,
    upstream_cancel: bool,
    state: CounterState | None = None,
    to_cash: bool = False,
    check_drawer: bool = True,
    extra_json: dict[str, Any] | None = None,
) -> Refunded:
    """The body of a refund, in the caller's transaction: a mirror settlement, every ledger entry
    and year total reversed, audited; with `upstream_cancel`, the 2208 (2103) queued. An inpatient
    cancel has already been made with the centre online (inpatient.py), so it queues nothing.
    `state` is the counter's state if the caller read it (`counter_state`), else it is read here.
    The cash part goes back by the original's means (each of a bill paid by several), or all in
    cash with `to_cash` (the refund's approval covers it); cash handed back never exceeds what the
    drawer should hold (a partial refund checks the net itself: `check_drawer` off). `extra_json` goes
    into the refund's settlement JSON (a partial refund names the lines returned)."""
    setl_no = orig.setl_no
    state = state or counter_state(session, ctx)
    consume_approval(session, approval, setl_no, ctx, at)  # single use, this counter, not expired
    back = _refund_parts(session, orig, to_cash)
    if check_drawer:
        drawer_covers(session, state, -tenders.cash_in(back))
    postgres = session.get_bind().dialect.name != "sqlite"
    if postgres:  # lock the patient and every account the original drew on, people first, in id order
        owners = (
            select(Account.person_id)
            .join(LedgerEntry, LedgerEntry.account_id == Account.id)
            .where(LedgerEntry.settlement_id == orig.id)
        )
        session.execute(
            select(Person.id)
            .where(Person.id.in_(union(select(literal(orig.person_id, Integer)), owners)))
            .order_by(Person.id)
            .with_for_update()
        )
    drawn = session.execute(
        select(LedgerEntry.amount, Account, Person.psn_no, LedgerEntry.kind)
        .join(Account, Account.id == LedgerEntry.account_id)
        .join(Person, Person.id == Account.person_id)
        .where(LedgerEntry.settlement_id == orig.id)
        .order_by(LedgerEntry.id)
        .with_for_update(of=Account)
        .execution_options(populate_existing=True)
    ).all()
    person = orig.person  # loaded with the original (original_settlement): no statement
    result = _mirror(json.loads(orig.result_json))
    serials = numbers.take(session, inst, {"settlement": 1, **({"message": 1} if upstream_cancel else {})})
    new_no = numbers.settlement_number(inst, serials["settlement"])
    row = dict(
        setl_no=new_no,
        kind="refund",
        reverses_id=orig.id,
        institution_id=inst.id,
        person_id=orig.person_id,
        med_type=orig.med_type,
        visit_date=orig.visit_date,
        settled_at=at,
        cashier=ctx.cashier,
        approver=approval.approver,
        counter=ctx.counter,
        policy=orig.policy,
        policy_version=orig.policy_version,
        medfee_sumamt=-orig.medfee_sumamt,
        fund_pay_sumamt=-orig.fund_pay_sumamt,
        hifp_pay=-orig.hifp_pay,
        acct_pay=-orig.acct_pay,
        acct_mulaid_pay=-orig.acct_mulaid_pay,
        psn_cash_pay=-orig.psn_cash_pay,
        claim_json=orig.claim_json,
        visit_json=orig.visit_json,
        payer_name=orig.payer_name,
        payer_certno=orig.payer_certno,
        result_json=json.dumps(dict(result, refund_reason=reason, **(extra_json or {})), ensure_ascii=False),
        shift_id=state.shift_id,
        business_day=day_after_close(at, state.last_closed),
        tender=tenders.tender_of(back),
        tendered=None,
    )
    row["id"] = settlement_id = session.execute(_INSERT_SETTLEMENT, row).scalar_one()
    paid = tenders.write(session, settlement_id, back)
    note = f"退费 {new_no}（原 {setl_no}）"
    written = _post(
        session,
        [(account, -amount, ledger.refund_kind(kind), note) for amount, account, _, kind in drawn],
        at,
        settlement_id,
    )
    reversed_entries = tuple((psn_no, -amount) for amount, _, psn_no, _ in drawn)
    totals = [
        dict(
            person_id=t.person_id,
            year=t.year,
            deductible_paid=-t.deductible_paid,
            outpatient_pool_paid=-t.outpatient_pool_paid,
            settlement_id=settlement_id,
            note=note,
        )
        for t in session.scalars(select(YearTotal).where(YearTotal.settlement_id == orig.id))
    ]
    for total in totals:  # one at the most: a settlement writes one year total, or none
        total["id"] = session.execute(_INSERT_YEAR_TOTAL, total).scalar_one()
    msgid = ""
    if upstream_cancel and person is not None:
        original = session.execute(
            select(Outbox.msgid, Outbox.infno, Outbox.visit_key).where(
                Outbox.settlement_id == orig.id,
                Outbox.infno.in_((infno.OUTPATIENT_SETTLE, infno.PHARMACY_SETTLE)),
            )
        ).first()
        msgid = upstream.queue_cancel(
            session,
            inst,
            person,
            settlement_id=settlement_id,
            setl_no=new_no,
            visit_key=(original.visit_key if original else None) or setl_no,
            omsgid=original.msgid if original else "",
            oinfno=original.infno if original else infno.OUTPATIENT_SETTLE,
            reason=reason,
            result=result,
            operator=ctx.cashier,
            at=at,
            first_serial=serials["message"],
        )
    _audit_money(
        session,
        ctx,
        "refund",
        row,
        written,
        totals,
        at,
        head=state.audit_head,
        paid=paid,
        reverses=setl_no,
        reason=reason,
        approver=approval.approver,
        approval_audit_id=approval.audit_id,
    )
    return Refunded(settlement_id, new_no, setl_no, at, msgid, reversed_entries, back)


def _refund_parts(session: Session, orig: Settlement, to_cash: bool) -> tenders.Parts:
    """How the original's cash part goes back (negative amounts)."""
    if to_cash or not orig.psn_cash_pay:
        return [("cash", ZERO - orig.psn_cash_pay)]
    if orig.tender == tenders.MIXED:
        return [(m, ZERO - a) for m, a in tenders.parts_of(session, [orig.id]).get(orig.id, [])]
    return [(orig.tender, ZERO - orig.psn_cash_pay)]


def drawer_covers(session: Session, state: CounterState, cash_out: Decimal) -> None:
    """Refuse to hand back more cash than the cashier's drawer should hold (issue 27)."""
    if cash_out <= 0 or state.shift_id is None:
        return
    from ..shift import expected_cash, shift_totals

    shift = session.get(Shift, state.shift_id)
    if shift is None:
        return
    held = expected_cash(shift, shift_totals(session, shift.id))
    if cash_out > held:
        raise RefundRefused(
            f"应退现金 {fmt(cash_out)} 超过钱箱应有现金 {fmt(held)}：请退回原支付方式，或由主管从备用金中补足后再退"
        )
