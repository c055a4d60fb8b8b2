"""Months of settlement history for the demo, so the agency's batches have something to show.

Settlements go through the real `settle_in` (engine, ledger, year totals, outbox) inside one
transaction, on shifts opened and closed per institution and month. Two anomalies are planted in
the last full month for monitoring (WH-31) to find, and the tests check that it does:
- the community health centre's outpatient visits double on the month before;
- one provider's account is drawn a dozen times by a bound relative at the hospital.
The history's outbox rows are marked sent: they stand for messages synced long ago.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..engine.crediting import previous_month
from ..store import Database
from ..store.models import Account, CatalogueItem, FamilyBinding, Institution, Outbox, Person, Shift
from .errors import ServiceError
from .settlement import ClaimLine, ClaimRequest, settle_in
from .shift import expected_cash, shift_totals
from .staff import sign_in

HOSPITAL, CENTRE, PHARMACY = "H34020200001", "H34020200002", "P34020200003"
VISITS = {HOSPITAL: 60, CENTRE: 30, PHARMACY: 8}  # outpatient settlements per month before the spike
PLANTED_DRAWS = 12

DEMO_RESPONSE = json.dumps({"infcode": 0, "note": "demo history"})  # how history rows are marked sent


def _months_before(today: dt.date, n: int) -> list[dt.date]:
    """The `n` full months before today's, oldest first."""
    if n < 1:
        return []
    months = [previous_month(today)]
    while len(months) < n:
        months.append(previous_month(months[-1]))
    return months[::-1]


def _pick_provider(session: Session) -> tuple[str | None, list[int]]:
    """A provider with a well-filled account and a bound relative who has no account of their own."""
    rows = session.execute(
        select(Person.psn_no, Account.balance, FamilyBinding.beneficiary_id)
        .join(FamilyBinding, FamilyBinding.provider_id == Person.id)
        .join(Account, Account.person_id == Person.id)
        .where(
            FamilyBinding.ended_at.is_(None), Person.status == "normal", Account.balance > Decimal("3000.00")
        )
        .order_by(Person.id)
    ).all()
    with_account = set(session.scalars(select(Account.person_id)))
    for psn_no, _, beneficiary in rows:
        if beneficiary not in with_account:
            return psn_no, [beneficiary]
    return None, []


def create_history(
    db: Database,
    months: int = 6,
    *,
    today: dt.date | None = None,
    seed: int = 7,
    progress: Callable[[int], None] | None = None,
) -> dict[str, object]:
    """Settle `months` full months before `today`; returns how many, and the planted provider's psn_no."""
    today = today or dt.date.today()
    rng = random.Random(seed)
    from .demo import (
        DEMO_PASSWORD,  # the demo's own staff settle the history, each in their role
    )

    actors = {
        code: sign_in(db, "p001" if code == PHARMACY else "c001", DEMO_PASSWORD, code, "历史")
        for code in VISITS
    }
    with db.transaction() as session:
        insts = {i.code: i for i in session.scalars(select(Institution).where(Institution.code.in_(VISITS)))}
        people = list(
            session.scalars(
                select(Person.id).where(Person.status == "normal", Person.hospitalized.is_(False))
            )
        )
        drugs = list(
            session.scalars(
                select(CatalogueItem.code).where(
                    CatalogueItem.kind == "drug",
                    CatalogueItem.cls != "C",
                    CatalogueItem.national_code.is_not(None),
                )
            )
        )
        services = list(
            session.scalars(
                select(CatalogueItem.code).where(
                    CatalogueItem.kind == "service",
                    CatalogueItem.account_payable.is_(True),
                    CatalogueItem.national_code.is_not(None),
                )
            )
        )
        planted, beneficiaries = _pick_provider(session)
        cheap_drugs = list(
            session.scalars(
                select(CatalogueItem.code).where(
                    CatalogueItem.kind == "drug",
                    CatalogueItem.cls == "A",
                    CatalogueItem.price < Decimal("40.00"),
                )
            )
        )
        settled: list[int] = []
        history = _months_before(today, months)
        for months_done, month in enumerate(history, 1):
            last = month == history[-1]
            for code, inst in insts.items():
                ctx = actors[code]
                shift = Shift(
                    institution_id=inst.id,
                    counter=ctx.counter,
                    cashier=ctx.cashier,
                    opened_at=dt.datetime.combine(month, dt.time(8)),
                    opening_float=Decimal("500.00"),
                )
                session.add(shift)
                session.flush()
                visits = VISITS[code] * (2 if last and code == CENTRE else 1) + rng.randint(-3, 3)
                patients = [rng.choice(people) for _ in range(visits)]
                if last and code == HOSPITAL and beneficiaries:
                    patients += [beneficiaries[0]] * PLANTED_DRAWS
                for k, person_id in enumerate(patients):
                    day = month.replace(day=1 + k % 27)
                    if person_id in beneficiaries and last:  # small, frequent visits: the pattern to catch
                        lines = [ClaimLine(rng.choice(cheap_drugs), Decimal(2))]
                    else:
                        lines = [ClaimLine(rng.choice(services))] if code != PHARMACY else []
                        lines += [
                            ClaimLine(rng.choice(drugs), Decimal(rng.randint(1, 3)))
                            for _ in range(rng.randint(1, 3))
                        ]
                    request = ClaimRequest(
                        person_id,
                        tuple(lines),
                        day,
                        med_type="41" if code == PHARMACY else "11",
                        prescribing_level=2 if code == PHARMACY else None,
                    )
                    try:
                        done = settle_in(
                            session, ctx, request, None, at=dt.datetime.combine(day, dt.time(9, k % 60))
                        )
                        settled.append(done.settlement_id)
                    except ServiceError:
                        continue  # a claim the rules refuse (e.g. no eligible item): a real counter would too
                totals = shift_totals(session, shift.id)
                shift.closed_at = dt.datetime.combine(month.replace(day=28), dt.time(18))
                shift.expected_cash = shift.counted_cash = expected_cash(shift, totals)
                shift.report_json = json.dumps(totals.as_json(), ensure_ascii=False)
            if progress:
                progress(months_done)
        for start in range(0, len(settled), 500):
            session.execute(
                update(Outbox)
                .where(Outbox.settlement_id.in_(settled[start : start + 500]))
                .values(status="sent", sent_at=Outbox.created_at, response=DEMO_RESPONSE)
            )
    return {"settlements": len(settled), "planted_provider": planted}
