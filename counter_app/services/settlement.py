"""Pre-settle, settle and refund: the counter's money, each in one transaction.

`preview` builds the claim from the store and runs the engine, writing nothing. `settle` does the
same again inside a transaction that holds the locks on every account it may touch, refuses if
the split differs from the preview the cashier confirmed (`SplitChanged` carries the new one), and
then writes the settlement, its ledger entries, the year totals and an outbox row together.
`refund` writes a reversal that mirrors all of that; the original is never edited or deleted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple, cast

import msgspec
from sqlalchemy import Integer, Select, Table, and_, bindparam, func, literal, select, union
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from .. import labels
from ..engine import CentreFund, claim_to_json
from ..engine import Settlement as EngineSettlement
from ..engine import settle as engine_settle
from ..engine.claim import Claim, Item, Provider, Ytd
from ..engine.claim import Institution as ClaimInstitution
from ..engine.claim import Person as ClaimPerson
from ..engine.interest import Movement
from ..engine.money import ZERO, cents, fmt
from ..engine.pots import carried_left
from ..engine.settlement import MONEY_FIELDS
from ..policies import load_pack
from ..store import Database
from ..store.models import (
    Account,
    CatalogueItem,
    FamilyBinding,
    Institution,
    LedgerEntry,
    NationalItem,
    NationalTerm,
    Outbox,
    Person,
    Settlement,
    Shift,
    YearTotal,
)
from . import clinical, ledger, national_catalogue, numbers, price_list, registry, tenders, upstream
from .actor import Actor
from .audit import record
from .clinical import Visit
from .errors import InsuredElsewhere, NotFound, RefundRefused, ServiceError, Unmapped, require_reason
from .institutions import by_code as _institution
from .lookup import account_state, provider_relation
from .shift import CounterState, counter_state, day_after_close, state_columns, state_params
from .staff import Approval, approval_for, consume_approval
from .tenders import TENDERS

MAX_QUANTITY = Decimal("9999")

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimLine:
    code: str
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What the cashier entered: who, what kind of visit, which catalogue items."""

    person_id: int
    lines: tuple[ClaimLine, ...]
    visit_date: dt.date
    med_type: str = "11"
    location: str = "local"
    prescribing_level: int | None = None
    use_own_account: bool = True
    use_family_account: bool = True
    cert_type: str = ""  # mdtrt_cert_type of what was scanned (lookup.Scanned); "" = by the ID number
    cert_no: str = ""
    dept_code: str = ""  # "" = the institution's default department (services/clinical.py)
    doctor_code: str = ""  # "" = the department's default doctor
    diagnoses: tuple[str, ...] = ()  # disease codes (1307/1309); a chronic visit (14) needs one
    visit: Visit | None = None  # the facts already settled on (an inpatient stay's, from admission)


@dataclass(frozen=True, slots=True)
class Preview:
    claim: Claim
    result: EngineSettlement
    lines: tuple[
        FeeLine, ...
    ] = ()  # the claim's lines with quantity and unit price (an online 2206 needs them)
    visit: Visit | None = None  # department, doctor and diagnoses, defaults filled in

    @property
    def split(self) -> tuple[Any, ...]:
        return split_of(self.result)


@dataclass(frozen=True, slots=True)
class Settled:
    settlement_id: int
    setl_no: str
    settled_at: dt.datetime
    result: EngineSettlement
    msgid: str


@dataclass(frozen=True, slots=True)
class Refunded:
    settlement_id: int
    setl_no: str
    reverses_setl_no: str
    settled_at: dt.datetime
    msgid: str
    reversed_entries: tuple[tuple[str, Decimal], ...] = field(default=())
    parts: list[tuple[str, Decimal]] = field(default_factory=list)  # how the cash part went back (negative)


class SplitChanged(ServiceError):
    """Balances moved since the preview: the cashier must show the new split and confirm again."""

    def __init__(self, preview: Preview) -> None:
        super().__init__("余额已变动（可能另一窗口已使用同一共济账户），请向参保人确认新的分摊后再结算")
        self.preview = preview


def split_of(result: EngineSettlement) -> tuple[Any, ...]:
    """What the patient agreed to: fund, own account, each family account, cash."""
    return (
        result.medfee_sumamt,
        result.fund_pay_sumamt,
        result.own_acct_pay,
        tuple((d.psn_no, d.paid) for d in result.mulaid),
        result.psn_cash_pay,
    )


@dataclass(frozen=True, slots=True)
class FeeLine:
    """A claim line as it goes upstream (2204, 2301, 2102): quantity and unit price beside the amount."""

    code: str  # the hospital's (medins_list_codg)
    name: str
    kind: str
    cls: str
    quantity: Decimal
    price: Decimal
    amount: Decimal
    national_code: str = ""  # the platform's (med_list_codg)
    overlimit: Decimal = ZERO  # the part over the catalogue's price cap (超限价自付)


def checked_line(n: int, line: ClaimLine, cat: CatalogueItem | None) -> CatalogueItem:
    """Line `n`'s catalogue item, refused when the code is unknown or the quantity out of bounds
    (an insured claim and a self-pay visit take their lines alike)."""
    if cat is None:
        raise NotFound(f"第 {n} 行：目录中没有编码 {line.code}")
    if not ZERO < line.quantity <= MAX_QUANTITY:
        raise ServiceError(f"第 {n} 行：数量应大于 0 且不超过 {MAX_QUANTITY}（{line.quantity}）")
    return cat


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
_SETTLEMENTS, _YEAR_TOTALS = cast(Table, Settlement.__table__), cast(Table, YearTotal.__table__)
_INSERT_SETTLEMENT = _SETTLEMENTS.insert().returning(_SETTLEMENTS.c.id)
_INSERT_YEAR_TOTAL = _YEAR_TOTALS.insert().returning(_YEAR_TOTALS.c.id)


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


def _run_engine(claim: Claim, centre: CentreFund | None = None) -> EngineSettlement:
    from ..engine import ClaimError, PackError, PackNotInForce

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


INPATIENT_MED_TYPES = ("21", "52")
SELF_PAY = "self-pay"  # Settlement.policy of a self-pay visit (services/self_pay.py): never the centre's


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
                Outbox.settlement_id == orig.id, Outbox.infno.in_((upstream.SETTLE, upstream.PHARMACY_SETTLE))
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
            oinfno=original.infno if original else upstream.SETTLE,
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
    from .shift import expected_cash, shift_totals

    shift = session.get(Shift, state.shift_id)
    if shift is None:
        return
    held = expected_cash(shift, shift_totals(session, shift.id))
    if cash_out > held:
        raise RefundRefused(
            f"应退现金 {fmt(cash_out)} 超过钱箱应有现金 {fmt(held)}：请退回原支付方式，或由主管从备用金中补足后再退"
        )


def pool_limits(db: Database, institution_code: str, visit_date: dt.date) -> tuple[Decimal, Decimal] | None:
    """The deductible and annual cap in force at this institution on this date, if it has pooling."""
    with db.sessions() as session:
        policy = _institution(session, institution_code).policy
    period = load_pack(policy).pool_for(visit_date)
    return (period.deductible.value, period.annual_cap.value) if period else None


def institution_label(db: Database, institution_code: str) -> tuple[str, int, str]:
    """(name, level, policy pack id) of the counter's institution, for the window's header."""
    with db.sessions() as session:
        inst = _institution(session, institution_code)
        return inst.name, inst.level, inst.policy
