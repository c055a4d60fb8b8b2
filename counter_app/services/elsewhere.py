"""A patient insured in another region (异地就医直接结算): the centre settles the visit under the
patient's own region's policy, and the counter records what it answered (rules.md decision 12).

The embedded Wuhu and Hefei packs never price such a patient. F5 asks the centre to pre-settle
(a probe visit: 2201, 2203, 2204, 2206, then abandoned; at a pharmacy 2101); F9 sends the visit's
messages online in the platform's order and, only once the centre has settled it, records the
settlement with the centre's split in one transaction, the messages as sent with their answers.
The patient's account is held by their own region's centre, so no ledger entry is written here;
nor are year totals, which are that centre's. A refund goes as for any settlement (2208 queued).

With the centre away nothing is recorded; a settling message whose answer was lost is reversed
(2601) by the link.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from .. import infno
from ..engine import SettlementResult, claim_to_json
from ..engine.claim import Ytd
from ..engine.money import ZERO, cents, fmt
from ..engine.settlement import MONEY_FIELDS
from ..store import Database
from ..store.models import CentreResult, Person
from . import numbers, upstream
from .actor import Actor
from .errors import CentreUnavailable, ServiceError
from .settlement import (
    _INSERT_SETTLEMENT,
    INPATIENT_MED_TYPES,
    ClaimRequest,
    Preview,
    Settled,
    _audit_money,
    _claim_from,
    _people_at,
    split_of,
)
from .shift import day_after_close
from .tenders import TENDERS

log = logging.getLogger(__name__)

POLICY_PREFIX = "elsewhere-"  # Settlement.policy of a visit the centre settled: elsewhere-<insuplc_admdvs>
RULE = "decision-12"


@dataclass(frozen=True)
class ElsewhereVisit:
    """The messages of one visit, as the outbox would hold them, and their msgids."""

    institution_code: str
    operator: str
    operator_name: str
    psn_no: str
    insuplc_admdvs: str
    visit_key: str
    messages: tuple[tuple[str, dict[str, Any]], ...]
    msgids: tuple[str, ...]


class CentreSettles(Protocol):
    """The centre online (sync's CentreLink). Both raise CentreUnavailable or CentreRefused."""

    def presettle_elsewhere(self, visit: ElsewhereVisit) -> dict[str, Any]:
        """The centre's setlinfo for a probe visit that is abandoned afterwards."""

    def settle_elsewhere(self, visit: ElsewhereVisit) -> list[dict[str, Any]]:
        """Every message sent in order; their answers. Cleans up a half-registered visit itself."""

    def reverse_elsewhere(self, visit: ElsewhereVisit) -> None:
        """2601 for the visit's settling message (queued if the centre is away)."""


def policy_of(admdvs: str) -> str:
    return f"{POLICY_PREFIX}{admdvs}"


def is_elsewhere(policy: str) -> bool:
    return policy.startswith(POLICY_PREFIX)


def _amount(value: Any) -> Decimal:
    """An amount the centre answered (checked by the sync layer); not given is zero."""
    if value is None or value == "":
        return ZERO
    return cents(Decimal(value))


def from_centre(setlinfo: dict[str, Any], year: int, admdvs: str) -> SettlementResult:
    """The centre's split in the shape of the counter's settlement JSON (no family draws: HF/WH
    mutual aid is the patient's own region's business)."""
    v = {k: _amount(setlinfo.get(k)) for k in MONEY_FIELDS}
    if not v["psn_part_amt"] and v["medfee_sumamt"] != v["fund_pay_sumamt"]:
        v["psn_part_amt"] = v["medfee_sumamt"] - v["fund_pay_sumamt"]
    note = f"异地就医：参保地 {admdvs} 的政策，由医保中心结算"
    return SettlementResult(
        policy=policy_of(admdvs),
        policy_version="centre",
        **v,
        pool_prop_selfpay=_amount(setlinfo.get("pool_prop_selfpay")),
        mulaid=(),
        ytd=Ytd(year),
        pooling_applies=v["hifp_pay"] > 0,
        pooling_reason=f"centre: {note}",
        trace=((RULE, note),),
    )


def _visit(
    session: Any,
    ctx: Actor,
    request: ClaimRequest,
    *,
    setl_no: str,
    result: dict[str, Any],
    at: dt.datetime,
    msgids: Sequence[str],
    presettle: bool,
) -> tuple[ElsewhereVisit, Any, Any, Person]:
    people, state = _people_at(session, request.person_id, request.visit_date.year, lock=False, ctx=ctx)
    claim, inst, _, fees, person, _ = _claim_from(session, people, state.institution, request, elsewhere=True)
    messages = upstream.settlement_payloads(
        inst,
        person,
        setl_no=setl_no,
        med_type=claim.med_type,
        cert_type=request.cert_type,
        cert_no=request.cert_no,
        fees=fees,
        result=result,
        use_account=request.use_own_account,
        at=at,
        visit_date=claim.visit_date,
        outside_rx=request.prescribing_level is not None,
    )
    if presettle:  # the same messages, pre-settling: 2206 (2101 at a pharmacy)
        last, payload = messages[-1]
        messages[-1] = (
            infno.PHARMACY_PRESETTLE if last == infno.PHARMACY_SETTLE else infno.OUTPATIENT_PRESETTLE,
            payload,
        )
    name = ctx.name
    visit = ElsewhereVisit(
        inst.code,
        ctx.cashier,
        name,
        person.psn_no,
        upstream.insured_at(person, inst),
        setl_no,
        tuple(messages),
        tuple(msgids),
    )
    return visit, claim, (inst, state, fees), person


def _check(ctx: Actor, request: ClaimRequest, centre: CentreSettles | None) -> CentreSettles:
    ctx.require_settle(request.med_type)
    if request.med_type in INPATIENT_MED_TYPES:
        raise ServiceError("异地参保人的住院结算尚未支持：请按异地就医流程办理（决定 12）")
    if centre is None:
        raise CentreUnavailable("该参保人在外地参保，须由医保中心联网结算，本窗口未连接医保中心（决定 12）")
    return centre


def preview(
    db: Database,
    ctx: Actor,
    request: ClaimRequest,
    centre: CentreSettles | None,
    *,
    now: dt.datetime | None = None,
) -> Preview:
    """F5: the centre's pre-settlement of the visit; nothing is recorded at the counter."""
    link = _check(ctx, request, centre)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        _, state = _people_at(session, request.person_id, request.visit_date.year, lock=False, ctx=ctx)
        inst = state.institution
        ids = numbers.msgids(session, inst, at, upstream.settlement_messages(inst))
        probe = f"Y{ids[0][-20:]}"  # a probe visit number, never a settlement's
        visit, claim, (_, _, fees), person = _visit(
            session, ctx, request, setl_no=probe, result={}, at=at, msgids=ids, presettle=True
        )
        total = fmt(sum((f.amount for f in fees), ZERO))
        visit = replace(
            visit, messages=tuple((i, {**p, "setlinfo": {"medfee_sumamt": total}}) for i, p in visit.messages)
        )
        place = person.insuplc_admdvs or ""
    setlinfo = link.presettle_elsewhere(visit)
    return Preview(claim, from_centre(setlinfo, request.visit_date.year, place), fees)


def settle(
    db: Database,
    ctx: Actor,
    request: ClaimRequest,
    confirmed: Preview,
    centre: CentreSettles | None,
    *,
    now: dt.datetime | None = None,
    tender: str = "cash",
    tendered: Decimal | None = None,
) -> Settled:
    """F9: the centre settles the visit online; then the counter records it (see the module's text)."""
    link = _check(ctx, request, centre)
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        _, state = _people_at(session, request.person_id, request.visit_date.year, lock=False, ctx=ctx)
        inst = state.institution
        serials = numbers.take(
            session, inst, {"settlement": 1, "message": upstream.settlement_messages(inst)}
        )
        setl_no = numbers.settlement_number(inst, serials["settlement"])
        ids = numbers.msgids(session, inst, at, upstream.settlement_messages(inst), serials["message"])
        visit, claim, (_, _, fees), person = _visit(
            session,
            ctx,
            request,
            setl_no=setl_no,
            result=confirmed.result.to_json(),
            at=at,
            msgids=ids,
            presettle=False,
        )
        place = person.insuplc_admdvs or ""
    answers = link.settle_elsewhere(visit)  # nothing recorded unless the centre settled
    setlinfo = (answers[-1].get("output") or {}).get("setlinfo") or {}
    result = from_centre(setlinfo, claim.visit_date.year, place)
    if tendered is not None and (tender != "cash" or tendered < result.psn_cash_pay):
        tendered = None  # the centre's split stands; the change is counted from the cash it says
    try:
        with db.transaction() as session:
            people, state = _people_at(
                session, request.person_id, request.visit_date.year, lock=True, ctx=ctx
            )
            row = dict(
                setl_no=setl_no,
                kind="settle",
                reverses_id=None,
                institution_id=state.institution.id,
                person_id=people.person.id,
                med_type=claim.med_type,
                visit_date=claim.visit_date,
                settled_at=at,
                cashier=ctx.cashier,
                approver=None,
                counter=ctx.counter,
                policy=result.policy,
                policy_version=result.policy_version,
                medfee_sumamt=result.medfee_sumamt,
                fund_pay_sumamt=result.fund_pay_sumamt,
                hifp_pay=result.hifp_pay,
                acct_pay=result.acct_pay,
                acct_mulaid_pay=result.acct_mulaid_pay,
                psn_cash_pay=result.psn_cash_pay,
                claim_json=json.dumps(claim_to_json(claim), ensure_ascii=False),  # the lines, for the slip
                result_json=json.dumps(
                    dict(
                        result.to_json(),
                        lines=[{"code": f.code, "cnt": str(f.quantity), "pric": str(f.price)} for f in fees],
                    ),
                    ensure_ascii=False,
                ),
                shift_id=state.shift_id,
                business_day=day_after_close(at, state.last_closed),
                tender=tender,
                tendered=tendered,
            )
            row["id"] = session.execute(_INSERT_SETTLEMENT, row).scalar_one()
            upstream.record_sent(
                session,
                state.institution,
                people.person,
                settlement_id=row["id"],
                visit_key=setl_no,
                operator=ctx.cashier,
                at=at,
                messages=visit.messages,
                msgids=visit.msgids,
                responses=[json.dumps(a, ensure_ascii=False, default=str) for a in answers],
            )
            session.add(
                CentreResult(
                    settlement_id=row["id"],
                    msgid=visit.msgids[-1],
                    mdtrt_id=str(setlinfo.get("mdtrt_id") or ""),
                    setl_id=str(setlinfo.get("setl_id") or ""),
                    equal=True,
                    differences="{}",
                    setlinfo=json.dumps(setlinfo, ensure_ascii=False, default=str),
                    received_at=at,
                )
            )
            _audit_money(session, ctx, "settle", row, [], [], at, head=state.audit_head, elsewhere=place)
    except Exception:
        log.exception("the centre settled %s but the counter could not record it: reversing", setl_no)
        link.reverse_elsewhere(visit)
        raise
    if split_of(result) != confirmed.split:
        log.warning("%s: the centre's settlement differs from its pre-settlement", setl_no)
    log.info(
        "settled %s (insured at %s) by the centre at %s by %s: medfee %s fund %s account %s cash %s",
        setl_no,
        place,
        ctx.counter,
        ctx.staff_no,
        result.medfee_sumamt,
        result.fund_pay_sumamt,
        result.acct_pay,
        result.psn_cash_pay,
    )
    return Settled(row["id"], setl_no, at, result, visit.msgids[-1])
