"""`settle`: the claim built again inside a transaction that holds the locks on every account it
may touch, refused if the split differs from the preview the cashier confirmed (`SplitChanged`),
then the settlement, its ledger entries, the year totals, the outbox rows and the audit together.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ... import labels
from ...engine import CentreFund, claim_to_json
from ...engine.money import ZERO, cents, fmt
from ...engine.settlement import MONEY_FIELDS
from ...store import Database
from ...store.models import (
    Account,
    Settlement,
    YearTotal,
)
from .. import ledger, numbers, tenders, upstream
from ..actor import Actor
from ..audit import record
from ..errors import ServiceError
from ..shift import day_after_close
from ..tenders import TENDERS
from .build import _claim_from, _people_at, _run_engine
from .request import INPATIENT_MED_TYPES, ClaimRequest, Preview, Settled, SplitChanged, split_of

log = logging.getLogger("counter_app.services.settlement")


_SETTLEMENTS, _YEAR_TOTALS = cast(Table, Settlement.__table__), cast(Table, YearTotal.__table__)
_INSERT_SETTLEMENT = _SETTLEMENTS.insert().returning(_SETTLEMENTS.c.id)
_INSERT_YEAR_TOTAL = _YEAR_TOTALS.insert().returning(_YEAR_TOTALS.c.id)


def settle(
    db: Database,
    ctx: Actor,
    request: ClaimRequest,
    confirmed: Preview | None,
    *,
    now: dt.datetime | None = None,
    tender: str = "cash",
    tendered: Decimal | None = None,
    paid_by: Sequence[tuple[str, Decimal]] = (),
) -> Settled:
    """Settle atomically. With `confirmed`, refuses (SplitChanged) unless the split is the same.
    Needs the cashier's open shift; `tender` is how the patient pays the cash part, or `paid_by`
    the card and app amounts of a bill paid by several means, the balance in cash (tenders.split);
    `tendered` the cash handed over (for the change and the slip; not less than the cash due)."""
    with db.transaction() as session:
        done = settle_in(
            session,
            ctx,
            request,
            confirmed,
            at=now or dt.datetime.now(),
            tender=tender,
            tendered=tendered,
            paid_by=paid_by,
        )
    r = done.result
    log.info(
        "settled %s at %s by %s: medfee %s fund %s own account %s family %s cash %s (%s)",
        done.setl_no,
        ctx.counter,
        ctx.staff_no,
        r.medfee_sumamt,
        r.fund_pay_sumamt,
        r.own_acct_pay,
        r.acct_mulaid_pay,
        r.psn_cash_pay,
        tender,
    )
    return done


def settle_in(
    session: Session,
    ctx: Actor,
    request: ClaimRequest,
    confirmed: Preview | None,
    *,
    at: dt.datetime,
    tender: str = "cash",
    centre: CentreFund | None = None,
    tendered: Decimal | None = None,
    paid_by: Sequence[tuple[str, Decimal]] = (),
    extra_json: dict[str, Any] | None = None,
) -> Settled:
    """The body of `settle`, inside the caller's transaction (a discharge settles within its own,
    with the fund payment the centre answered: `centre`).

    Its statements (issue 16; tests/services/test_statement_count.py pins the number): the people
    with their accounts, year totals and bindings, with the counter's state on every row (shift,
    institution, last closed day; on SQLite the audit head too; on PostgreSQL a second statement
    locks the accounts), the catalogue lines with their national terms in force, the visit's
    department and doctor (clinical.resolve), both number counters in one upsert, the settlement,
    the ledger entries and the accounts' balances (one executemany each), the year total if any, the
    visit's messages (one executemany), and the audit entry (on PostgreSQL after its advisory lock
    and a read of the head): 9 on SQLite and 12 on PostgreSQL for a visit drawing on two family
    accounts. The rows are inserted with Core: nothing reads them back as objects, and the audit
    hashes them as written."""
    ctx.require_settle_role(request.med_type)  # the staff row: in _people_at's statement
    if tender not in TENDERS:
        raise ServiceError(f"未知的支付方式：{tender}")
    people, state = _people_at(session, request.person_id, request.visit_date.year, lock=True, ctx=ctx)
    claim, inst, accounts, fees, person, visit = _claim_from(session, people, state.institution, request)
    result = _run_engine(claim, centre)
    if confirmed is not None and split_of(result) != confirmed.split:
        raise SplitChanged(Preview(claim, result))
    parts = tenders.split(result.psn_cash_pay, tender, paid_by)
    if tendered is not None:
        cash_due = tenders.cash_in(parts)
        if not cash_due and not paid_by:
            raise ServiceError(f"实收金额只用于现金支付（本次为{TENDERS[tender]}）")
        if tendered != cents(tendered) or tendered < cash_due:
            raise ServiceError(f"实收 {fmt(tendered)} 少于应收现金 {fmt(cash_due)}")
    queued = (
        claim.med_type not in INPATIENT_MED_TYPES
    )  # an inpatient settlement is the centre's, online (inpatient.py)
    serials = numbers.take(
        session,
        inst,
        {"settlement": 1, **({"message": upstream.settlement_messages(inst)} if queued else {})},
    )
    setl_no = numbers.settlement_number(inst, serials["settlement"])
    row = dict(
        setl_no=setl_no,
        kind="settle",
        reverses_id=None,
        institution_id=inst.id,
        person_id=person.id,
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
        claim_json=json.dumps(claim_to_json(claim), ensure_ascii=False),
        # the contract's settlement JSON, and each line's quantity and unit price for the slip
        result_json=json.dumps(
            dict(
                result.to_json(),
                lines=[{"code": f.code, "cnt": str(f.quantity), "pric": str(f.price)} for f in fees],
                **(extra_json or {}),  # a partial refund's new settlement names the one it replaces
            ),
            ensure_ascii=False,
        ),
        shift_id=state.shift_id,
        business_day=day_after_close(at, state.last_closed),
        tender=tenders.tender_of(parts),
        tendered=tendered,
        visit_json=json.dumps(visit.to_json(), ensure_ascii=False),
    )
    row["id"] = settlement_id = session.execute(_INSERT_SETTLEMENT, row).scalar_one()
    paid = tenders.write(session, settlement_id, parts)  # a row per means, only for several
    draws = []
    if result.own_acct_pay:
        draws.append((accounts[person.psn_no], -result.own_acct_pay, "settle", f"结算 {setl_no}"))
    for draw in result.mulaid:
        draws.append(
            (
                accounts[draw.psn_no],
                -draw.paid,
                "mulaid",
                f"家庭共济 {setl_no}：{person.name}（{labels.RELATION.get(draw.relation, draw.relation)}）",
            )
        )
    entries = _post(session, draws, at, settlement_id)
    totals = []
    if (result.act_pay_dedc or result.hifp_pay) and centre is None:  # the outpatient year totals only
        totals.append(
            dict(
                person_id=person.id,
                year=claim.visit_date.year,
                deductible_paid=result.act_pay_dedc,
                outpatient_pool_paid=result.hifp_pay,
                settlement_id=settlement_id,
                note=f"结算 {setl_no}",
            )
        )
        totals[0]["id"] = session.execute(_INSERT_YEAR_TOTAL, totals[0]).scalar_one()
    msgid = ""
    if queued:
        msgid = upstream.queue_settlement(
            session,
            inst,
            person,
            settlement_id=settlement_id,
            setl_no=setl_no,
            med_type=claim.med_type,
            cert_type=request.cert_type,
            cert_no=request.cert_no,
            fees=fees,
            result=result.to_json(),
            use_account=request.use_own_account or request.use_family_account,
            operator=ctx.cashier,
            at=at,
            visit_date=claim.visit_date,
            outside_rx=request.prescribing_level is not None,
            visit=visit,
            first_serial=serials["message"],
        )
    _audit_money(session, ctx, "settle", row, entries, totals, at, head=state.audit_head, paid=paid)
    return Settled(settlement_id, setl_no, at, result, msgid)


def _post(
    session: Session, draws: list[tuple[Account, Decimal, str, str]], at: dt.datetime, settlement_id: int
) -> list[dict[str, Any]]:
    """The ledger entries of a settlement or refund (account, amount, kind, note), in two statements
    (ledger.post_batch); each account object is given its new balance without another statement."""
    running: dict[int, Decimal] = {}
    postings = []
    for account, amount, kind, note in draws:
        before = running.get(account.id, account.balance)
        postings.append(ledger.BatchPosting(account.id, before, amount, note, kind))
        running[account.id] = before + amount
    rows = ledger.post_batch(
        session, postings, kind="settle", period=None, at=at, settlement_id=settlement_id
    )
    for account, *_ in draws:
        set_committed_value(account, "balance", running[account.id])
        set_committed_value(account, "version", account.version + 1)
    return rows


def _audit_money(
    session: Session,
    ctx: Actor,
    action: str,
    row: dict[str, Any],
    entries: list[dict[str, Any]],
    totals: list[dict[str, Any]],
    at: dt.datetime,
    head: tuple[int | None, str | None] | None = None,
    paid: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> None:
    """The audit entry covering the settlement or refund and every row it wrote (hashed as written),
    with each account's balance before and after; `paid` the rows of a bill paid by several means."""
    record(
        session,
        ctx,
        action,
        row["setl_no"],
        at=at,
        before={"accounts": {str(e["account_id"]): fmt(e["balance_after"] - e["amount"]) for e in entries}},
        after={
            "accounts": {str(e["account_id"]): fmt(e["balance_after"]) for e in entries},
            "medfee_sumamt": fmt(row["medfee_sumamt"]),
            "fund_pay_sumamt": fmt(row["fund_pay_sumamt"]),
            "acct_pay": fmt(row["acct_pay"]),
            "acct_mulaid_pay": fmt(row["acct_mulaid_pay"]),
            "psn_cash_pay": fmt(row["psn_cash_pay"]),
            **extra,
        },
        covers={
            "settlement": [row["id"]],
            "ledger_entry": [e["id"] for e in entries],
            "year_total": [t["id"] for t in totals],
            **({"settlement_tender": [p["id"] for p in paid]} if paid else {}),
        },
        written={
            "settlement": [row],
            "ledger_entry": entries,
            "year_total": totals,
            **({"settlement_tender": paid} if paid else {}),
        },
        head=head,
    )


def _mirror(result: dict[str, Any]) -> dict[str, Any]:
    """The settlement JSON with every amount negated: a cancellation mirrors its original."""
    out = dict(result)
    for key in MONEY_FIELDS:
        if key != "balc":  # a balance after is a state, not an amount moved
            out[key] = fmt(ZERO - Decimal(result[key]))  # ZERO - x: never "-0.00"
    out["mulaid"] = [dict(m, paid=fmt(ZERO - Decimal(m["paid"]))) for m in result["mulaid"]]
    return out
