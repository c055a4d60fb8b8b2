"""The engine's claim built from the store as it is now (the patient, their account and year totals,
the bound relatives valid under the policy, the catalogue's classes on the visit day), and
`preview`, which runs the engine on it and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec
from sqlalchemy import Integer, Select, and_, bindparam, func, select, union
from sqlalchemy.orm import Session

from ...engine import CentreFund, SettlementResult
from ...engine import settle as engine_settle
from ...engine.claim import Claim, ClaimInstitution, ClaimPerson, Item, Provider, Ytd
from ...engine.interest import Movement
from ...engine.money import ZERO, cents
from ...engine.pots import carried_left
from ...policies import load_pack
from ...store import Database
from ...store.models import (
    Account,
    CatalogueItem,
    FamilyBinding,
    Institution,
    LedgerEntry,
    NationalItem,
    NationalTerm,
    Person,
    YearTotal,
)
from .. import clinical, national_catalogue, price_list, registry
from ..actor import Actor
from ..clinical import Visit
from ..errors import InsuredElsewhere, NotFound, ServiceError, Unmapped
from ..institutions import by_code as _institution
from ..lookup import account_state, provider_relation
from ..shift import CounterState, counter_state, state_columns, state_params
from .request import ClaimLine, ClaimRequest, FeeLine, Preview, checked_line


def _items(
    session: Session, lines: tuple[ClaimLine, ...], day: dt.date
) -> tuple[tuple[Item, ...], tuple[FeeLine, ...]]:
    """The claim's items, classed by the national catalogue in force on the visit day; an item
    the catalogue cannot class is refused (Unmapped): it can be sold only as self-pay."""
    if not lines:
        raise ServiceError("请至少录入一个收费项目")
    codes = {line.code for line in lines}
    found: dict[str, CatalogueItem] = {}
    known: set[str] = set()
    in_force: dict[str, list[NationalTerm]] = {}
    for row in session.execute(_CATALOGUE, {"codes": sorted(codes), "day": day}):
        found[row.CatalogueItem.code] = row.CatalogueItem
        if row.known:
            known.add(row.CatalogueItem.code)
        if row.NationalTerm is not None:
            in_force.setdefault(row.CatalogueItem.code, []).append(row.NationalTerm)
    items, fees = [], []
    for n, line in enumerate(lines, 1):
        cat = checked_line(n, line, found.get(line.code))
        terms = national_catalogue.combine(in_force.get(cat.code, ())) if cat.code in known else None
        reason = price_list.unmapped_reason(cat.national_code, terms)
        if reason is not None or terms is None or terms.cls is None:
            raise Unmapped(f"第 {n} 行 {cat.name}（{cat.code}）：{reason}，只能自费结算", cat.code)
        amount = cents(cat.price * line.quantity)
        cap = terms.cap
        over = (
            cents((cat.price - cap) * line.quantity)
            if terms.cls != "C" and cap is not None and cat.price > cap
            else ZERO
        )
        items.append(
            Item(
                cat.code,
                cat.name,
                terms.cls,
                amount,
                terms.selfpay if terms.cls == "B" else ZERO,
                cat.account_payable,
                over,
            )
        )
        fees.append(
            FeeLine(
                cat.code,
                cat.name,
                cat.kind,
                terms.cls,
                line.quantity,
                cat.price,
                amount,
                cat.national_code or "",
                over,
            )
        )
    return tuple(items), tuple(fees)


@dataclass
class _People:
    """The patient, their account and year totals, and each bound provider valid under the policy."""

    person: Person
    account: Account | None
    deductible: Decimal
    pooled: Decimal
    providers: list[tuple[FamilyBinding, Person, Account | None]]


@functools.cache
def _people_query(lock: bool, state: str | None = None) -> Select[Any]:
    """`_people`'s statement, built once (bound parameters pid, year, and policy; or, with `state`
    (the dialect), code, counter and cashier: the counter's state rides on every row, so a settle
    reads it in the same statement as the people)."""
    pid: Any = bindparam("pid", type_=Integer)
    active = and_(FamilyBinding.beneficiary_id == pid, FamilyBinding.ended_at.is_(None))
    policy = Institution.policy if state else bindparam("policy")
    valid = FamilyBinding.policy == policy  # a binding pays only under its own policy (migration 0011)

    def year_sum(column: Any, name: str) -> Any:
        return (
            select(func.coalesce(func.sum(column), ZERO))
            .where(YearTotal.person_id == pid, YearTotal.year == bindparam("year"))
            .scalar_subquery()
            .label(name)
        )

    columns = [
        Person,
        Account,
        FamilyBinding,
        year_sum(YearTotal.deductible_paid, "deductible_paid"),
        year_sum(YearTotal.outpatient_pool_paid, "pool_paid"),
    ]
    query = select(*columns, *(state_columns(state == "sqlite") if state else ())).select_from(Person)
    if state:
        query = query.join(Institution, Institution.code == bindparam("code"))
    query = (
        query.outerjoin(Account, Account.person_id == Person.id)
        .outerjoin(FamilyBinding, and_(FamilyBinding.provider_id == Person.id, active, valid))
        # the patient and their providers as one IN over a UNION: PostgreSQL walks the whole person
        # index for `id = :pid OR id IN (…)` (issue 28), SQLite does either well
        .where(Person.id.in_(union(select(pid), select(FamilyBinding.provider_id).where(active))))
        .order_by(Person.id)
    )
    return query.with_for_update(of=Person) if lock else query


_LOCK_ACCOUNTS = (
    select(Account)
    .where(Account.person_id.in_(bindparam("ids", expanding=True)))
    .order_by(Account.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)
# The lines' items with their national code's terms in force on :day, one row per term (issue 24).
_CATALOGUE = (
    select(CatalogueItem, NationalItem.code.label("known"), NationalTerm)
    .outerjoin(NationalItem, NationalItem.code == CatalogueItem.national_code)
    .outerjoin(
        NationalTerm,
        and_(NationalTerm.code == CatalogueItem.national_code, national_catalogue.in_force(bindparam("day"))),
    )
    .where(CatalogueItem.code.in_(bindparam("codes", expanding=True)))
)


def _people(
    session: Session, person_id: int, year: int, policy: str | None, *, lock: bool, ctx: Actor | None = None
) -> tuple[_People, CounterState | None]:
    """One statement: the patient and every active provider (the patient's first), each with their
    account and the binding; the year totals as two scalar subqueries. A binding counts if it was
    made under `policy` (with `ctx`: the institution's), or before bindings recorded one; providers
    come oldest binding first. With `ctx`, the counter's state (shift.counter_state) comes in the
    same statement and is returned beside the people.

    With `lock` on PostgreSQL the people are locked in id order by this statement (FOR UPDATE OF
    person) and their accounts by a second, which reads them again as locked; SQLite's writer
    already holds the write lock (BEGIN IMMEDIATE)."""
    dialect = session.get_bind().dialect.name
    postgres = lock and dialect != "sqlite"
    params: dict[str, Any] = {"pid": person_id, "year": year}
    if ctx is None:
        params["policy"] = policy
    else:
        params.update(state_params(ctx))
    rows = session.execute(_people_query(postgres, dialect if ctx else None), params).all()
    state = None
    if ctx is not None:
        if not rows or rows[0].state_shift_id is None:
            counter_state(session, ctx)  # says what is missing: the institution, or an open shift
        if rows:
            state = CounterState.from_row(rows[0], dialect == "sqlite", session, ctx)
    if postgres and rows:
        session.execute(_LOCK_ACCOUNTS, {"ids": [r.Person.id for r in rows]}).all()
    patient = next((r for r in rows if r.Person.id == person_id), None)
    if patient is None:
        raise NotFound(f"未找到参保人（内部编号 {person_id}）")
    bound = sorted(
        (r for r in rows if r.FamilyBinding is not None),
        key=lambda r: (r.FamilyBinding.bound_at, r.FamilyBinding.id),
    )
    people = _People(
        patient.Person,
        patient.Account,
        patient.deductible_paid,
        patient.pool_paid,
        [(r.FamilyBinding, r.Person, r.Account) for r in bound],
    )
    return people, state


def _people_at(
    session: Session, person_id: int, year: int, *, lock: bool, ctx: Actor
) -> tuple[_People, CounterState]:
    """`_people` with the counter's state, which is there (or `counter_state` said why not)."""
    people, state = _people(session, person_id, year, None, lock=lock, ctx=ctx)
    if state is None:  # no rows: the patient is unknown, and `_people` said so
        raise NotFound(f"未找到参保人（内部编号 {person_id}）")
    return people, state


class Built(NamedTuple):
    """What a claim is built from and into: the engine's claim, the institution, the accounts it
    may draw (by psn_no), the lines as they go upstream, the patient, and the visit's facts."""

    claim: Claim
    inst: Institution
    accounts: dict[str, Account]
    fees: tuple[FeeLine, ...]
    person: Person
    visit: Visit


def build_claim(
    session: Session,
    ctx: Actor,
    request: ClaimRequest,
    *,
    lock: bool = False,
    inst: Institution | None = None,
) -> Built:
    """The engine's claim from the store as it is now, its lines as they go upstream, and the
    patient's row (held: the session keeps loaded rows only while someone does); with `lock`, every
    account it reads is locked.

    Locks are taken as the rows are read (`_people`), so what is read is what the lock protects."""
    inst = inst or _institution(session, ctx.institution_code)
    people, _ = _people(session, request.person_id, request.visit_date.year, inst.policy, lock=lock)
    return _claim_from(session, people, inst, request)


def _claim_from(
    session: Session, people: _People, inst: Institution, request: ClaimRequest, *, elsewhere: bool = False
) -> Built:
    """`build_claim`'s answer from the people as read (and the catalogue lines, read here). A
    patient insured in another region is refused unless `elsewhere` (the centre settles them:
    services/elsewhere.py, decision 12)."""
    year = request.visit_date.year
    person, own_account = people.person, people.account
    if not elsewhere and not registry.local_to(person.insuplc_admdvs or "", inst.admdvs):
        raise InsuredElsewhere(
            f"{person.name} 在外地参保（参保地 {person.insuplc_admdvs}），本地政策不能结算，"
            "须由医保中心联网结算",
            "决定 12",
        )
    own_balance, _ = account_state(own_account)
    family = []
    accounts: dict[str, Account] = {person.psn_no: own_account} if own_account is not None else {}
    for binding, provider, account in people.providers:
        balance, is_open = account_state(account)
        if not is_open or account is None:
            continue  # HF-2.2: a withdrawn or transferred account pays nobody
        if binding.relation == "self":  # HF-2.1: the account of the person's suspended employee enrolment
            if person.insutype == "310":  # re-employed: the account is the person's own again (decision 8)
                continue
            family.append(Provider(provider.psn_no, "self", "310", "suspended", balance, provider.died_on))
            own_balance = ZERO  # as a resident the person has no account of their own (WH-5)
        else:
            family.append(
                Provider(
                    provider.psn_no,
                    provider_relation(binding.relation, provider.certno),
                    provider.insutype,
                    provider.status,
                    balance,
                    provider.died_on,
                )
            )
        accounts[provider.psn_no] = account
    if family and load_pack(inst.policy).family.draws_from == "carried":  # decision 9 (Hefei)
        family = _with_carried(session, family, accounts, request.visit_date.year)
    items, fees = _items(session, request.lines, request.visit_date)
    claim = Claim(
        policy=inst.policy,
        visit_date=request.visit_date,
        med_type=request.med_type,
        institution=ClaimInstitution(inst.code, inst.level, inst.kind, inst.designated),
        prescribing_level=request.prescribing_level,
        location=request.location,
        person=ClaimPerson(
            person.psn_no,
            person.insutype,
            person.psn_type,
            person.retired_on,
            person.status,
            person.hospitalized,
            own_balance,
            Ytd(year, people.deductible, people.pooled),
        ),
        family=tuple(family),
        items=items,
        use_own_account=request.use_own_account,
        use_family_account=request.use_family_account,
    )
    visit = request.visit or clinical.resolve(
        session, inst, request.med_type, request.dept_code, request.doctor_code, request.diagnoses
    )
    return Built(claim, inst, accounts, fees, person, visit)


def _with_carried(
    session: Session, family: list[Provider], accounts: dict[str, Account], year: int
) -> list[Provider]:
    """Each relative's account with what it still holds of the pot it carried into `year`
    (engine/pots.py, decision 9), from its ledger: one statement for every provider."""
    ids = {accounts[p.psn_no].id: p.psn_no for p in family if p.relation != "self" and p.psn_no in accounts}
    if not ids:
        return family
    start = dt.datetime(year, 1, 1)
    forward: dict[str, Decimal] = {}
    moves: dict[str, list[Movement]] = {}
    for account_id, amount, kind, at in session.execute(
        select(LedgerEntry.account_id, LedgerEntry.amount, LedgerEntry.kind, LedgerEntry.created_at)
        .where(LedgerEntry.account_id.in_(ids))
        .order_by(LedgerEntry.account_id, LedgerEntry.created_at, LedgerEntry.id)
    ):
        psn_no = ids[account_id]
        if at < start:
            forward[psn_no] = forward.get(psn_no, ZERO) + amount
        else:
            moves.setdefault(psn_no, []).append(Movement(at.date(), amount, kind))
    return [
        msgspec.structs.replace(
            p,
            carried=min(
                p.account_balance, carried_left(forward.get(p.psn_no, ZERO), moves.get(p.psn_no, ()))
            ),
        )
        if p.psn_no in forward or p.psn_no in moves
        else p
        for p in family
    ]


def _run_engine(claim: Claim, centre: CentreFund | None = None) -> SettlementResult:
    from ...engine import ClaimError, PackError, PackNotInForce

    try:
        return engine_settle(claim, load_pack(claim.policy), centre)
    except (PackNotInForce, PackError, ClaimError, ValueError) as exc:
        raise ServiceError(f"无法结算：{exc}") from exc


def preview(db: Database, ctx: Actor, request: ClaimRequest) -> Preview:
    """Pre-settlement: what would be paid by whom; writes nothing."""
    ctx.require_settle(request.med_type)
    with db.sessions() as session:
        built = build_claim(session, ctx, request)
        return Preview(built.claim, _run_engine(built.claim), built.fees, built.visit)
