"""A counter database's population as a registry file (registry_file.py), for a training centre.

A real centre has its own registry; a training setup and the tests need one that holds the same
people as the demo or test world. This writes it the way an agency would hand its population
over: the balances and year totals as the centre knows them, that is without the money moved by
settlements whose messages have not reached a centre yet (they will, and the centre moves it then).
A person whose place of insurance the counter never learned is taken as insured at the counter
database's first institution's division.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from .. import identity, infno
from ..engine.money import fmt
from ..store import Database
from ..store.models import (
    Account,
    CatalogueItem,
    Credential,
    FamilyBinding,
    Institution,
    LedgerEntry,
    Outbox,
    Person,
    YearTotal,
)
from . import national_catalogue

SETTLING = (*infno.SETTLE_INFNOS, *infno.CANCEL_INFNOS)


def _day(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def export(db: Database) -> dict[str, list[dict[str, Any]]]:
    with db.sessions() as s:
        unsent = select(Outbox.settlement_id).where(
            Outbox.infno.in_(SETTLING), Outbox.status != "sent", Outbox.settlement_id.is_not(None)
        )
        pending = dict(
            s.execute(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
                .where(LedgerEntry.settlement_id.in_(unsent))
                .group_by(LedgerEntry.account_id)
            )
            .tuples()
            .all()
        )
        institutions = list(s.scalars(select(Institution).order_by(Institution.id)))
        home = institutions[0].admdvs if institutions else ""
        accounts = {a.person_id: a for a in s.scalars(select(Account))}
        cards: dict[int, list[dict[str, str]]] = {}
        for c in s.scalars(select(Credential).where(Credential.kind == "card")):
            cards.setdefault(c.person_id, []).append({"card_no": c.code, "card_sn": ""})
        people = {p.id: p for p in s.scalars(select(Person).order_by(Person.id))}
        persons = []
        for p in people.values():
            account = accounts.get(p.id)
            born = identity.birth_date(p.certno) if len(p.certno) == 18 else None
            persons.append(
                {
                    "psn_no": p.psn_no,
                    "certno": p.certno,
                    "name": p.name,
                    "gend": ("1" if identity.is_male(p.certno) else "2") if len(p.certno) == 18 else "",
                    "brdy": _day(born),
                    "insutype": p.insutype,
                    "psn_type": p.psn_type,
                    "status": p.status,
                    "retired_on": _day(p.retired_on),
                    "hospitalized": bool(p.hospitalized),
                    "died_on": _day(p.died_on),
                    "insuplc_admdvs": p.insuplc_admdvs or home,
                    "emp_name": "",
                    "cards": cards.get(p.id, []),
                    "account": None
                    if account is None
                    else {
                        "balance": fmt(account.balance - Decimal(pending.get(account.id) or 0)),
                        "open": account.closed_on is None,
                    },
                }
            )
        bindings = [
            {
                "provider": people[b.provider_id].psn_no,
                "beneficiary": people[b.beneficiary_id].psn_no,
                "relation": b.relation,
                "policy": b.policy,
            }
            for b in s.scalars(
                select(FamilyBinding)
                .where(FamilyBinding.ended_at.is_(None))
                .order_by(FamilyBinding.bound_at, FamilyBinding.id)
            )
        ]
        totals = [
            {"psn_no": people[pid].psn_no, "year": year, "deductible": fmt(ded), "pooled": fmt(pooled)}
            for pid, year, ded, pooled in s.execute(
                select(
                    YearTotal.person_id,
                    YearTotal.year,
                    func.sum(YearTotal.deductible_paid),
                    func.sum(YearTotal.outpatient_pool_paid),
                )
                .where(YearTotal.settlement_id.is_(None) | YearTotal.settlement_id.not_in(unsent))
                .group_by(YearTotal.person_id, YearTotal.year)
            )
        ]
        # A centre classes a line by its national code: the catalogue goes by national code, with
        # the terms in force today (an item the counter has not mapped is unknown to a centre).
        items = [
            item for item in s.scalars(select(CatalogueItem).order_by(CatalogueItem.id)) if item.national_code
        ]
        terms = national_catalogue.terms_on(s, [item.national_code or "" for item in items], dt.date.today())
        catalogue, seen = [], set()
        for item in items:
            t = terms.get(item.national_code or "")
            if t is None or t.cls is None or item.national_code in seen:
                continue  # two hospital items may share one national code: the centre knows it once
            seen.add(item.national_code)
            catalogue.append(
                {
                    "code": item.national_code,
                    "name": item.name,
                    "kind": item.kind,
                    "cls": t.cls,
                    "prepay_ratio": str(t.selfpay if t.cls == "B" else Decimal(0)),
                    "account_payable": bool(item.account_payable),
                    "price": fmt(item.price),
                }
            )
        return {
            "institutions": [
                {
                    "code": i.code,
                    "name": i.name,
                    "level": i.level,
                    "kind": i.kind,
                    "designated": bool(i.designated),
                    "admdvs": i.admdvs,
                    "policy": i.policy,
                }
                for i in institutions
            ],
            "persons": persons,
            "bindings": bindings,
            "year_totals": totals,
            "catalogue": catalogue,
        }
