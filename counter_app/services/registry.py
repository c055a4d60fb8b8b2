"""The counter's registry as a cache of what the centre says about a person (1101).

The centre is the truth of who a patient is, how they are insured and where. A 1101 answer
(national-interface.md, "Person information (1101)") updates the counter's person row: name,
insurance type, person type and status from the insurance record the cashier chose, the place of
insurance, and when and from where it was learned. A person the counter has never seen is added;
a local insured person with no account here gets one opened with the balance the centre reported
(a ledger entry, audited). The family bindings, the accounts' ledgers and the year totals stay
the counter's own: the embedded engine needs them, and the agency keeps them.

A person insured elsewhere (异地) is settled by the centre alone (rules.md decision 12); no account
is opened for them here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import identity
from ..engine.money import cents, fmt
from ..store.models import Account, Person
from . import ledger
from .actor import Actor, PermissionDenied
from .audit import record
from .errors import ServiceError

# psn_type (4 digits, national-interface.md "Codes"): 11xx in service (1103 flexible worker),
# 12xx retired, 13xx retired before 1949 (离休); anything else (residents' codes) counts as in service.
FLEXIBLE_CODES = ("1103",)
# psn_insu_stas: 1 insured normally; 2 suspended; other codes (4: ended) are not insured now.
# The project's reading (the spec page gives only the sample's 1): not normal is "suspended".
STATUS_NORMAL = "1"
SETTLING = ("settle_outpatient", "settle_pharmacy", "settle_inpatient")


@dataclass(frozen=True, slots=True)
class Insurance:
    """One `insuinfo[]` record: an insurance the person has."""

    insutype: str
    psn_type: str  # the platform's code, e.g. 1101
    status: str  # psn_insu_stas
    balance: Decimal | None  # balc
    insuplc_admdvs: str
    emp_name: str = ""
    insured_on: str = ""  # psn_insu_date
    suspended_on: str = ""  # paus_insu_date
    civil_servant: bool = False  # cvlserv_flag

    @property
    def counter_psn_type(self) -> str:
        code = self.psn_type
        if code in FLEXIBLE_CODES:
            return "flexible_combined"
        if code.startswith(("12", "13")):
            return "retired"
        return "in_service"

    @property
    def counter_status(self) -> str:
        return "normal" if self.status == STATUS_NORMAL else "suspended"


@dataclass(frozen=True, slots=True)
class CentrePerson:
    """A 1101 answer, read (sync/person_query.py)."""

    psn_no: str
    certno: str
    name: str
    insurances: tuple[Insurance, ...]
    identities: tuple[str, ...] = ()  # idetinfo[].psn_idet_type
    source: str = ""  # where it was learned: the centre's address


def local_to(admdvs: str, institution_admdvs: str) -> bool:
    """Whether a place of insurance is this institution's city (the local packs are city-wide:
    the first four digits of the division, 3402 Wuhu, 3401 Hefei)."""
    return not admdvs or admdvs[:4] == institution_admdvs[:4]


def remember(
    session: Session,
    actor: Actor,
    found: CentrePerson,
    chosen: Insurance,
    *,
    institution_admdvs: str,
    at: dt.datetime,
) -> int:
    """Update (or add) the person from the centre's answer, inside the caller's transaction; returns
    the person's id. Audited, with what changed."""
    if not any(actor.may(p) for p in SETTLING):
        raise PermissionDenied(f"{actor.role_name}无权登记参保人")
    if not found.psn_no or len(found.psn_no) > 30:
        raise ServiceError(f"医保中心返回的人员编号无效：{found.psn_no[:40]!r}")
    try:
        certno = identity.normalise(found.certno) if len(found.certno) == 18 else found.certno
    except identity.CertnoError as exc:
        raise ServiceError(f"医保中心返回的证件号码无效：{exc}") from None
    if not certno or len(certno) > 18:
        raise ServiceError("医保中心返回的证件号码无效")
    person = session.scalar(
        select(Person)
        .where(or_(Person.psn_no == found.psn_no, Person.certno == certno))
        .order_by(Person.id)
        .limit(1)
    )
    status = chosen.counter_status
    if status == "suspended" and person is not None and person.status == "arrears":
        status = "arrears"  # the agency's finer word for why the centre says "not insured now" stays
    psn_type = chosen.counter_psn_type
    if psn_type == "flexible_combined" and person is not None and person.psn_type.startswith("flexible"):
        psn_type = person.psn_type  # one platform code for flexible workers; the agency's mode (WH-7) stays
    fields = dict(
        psn_no=found.psn_no,
        certno=certno,
        name=found.name[:50] or "（未返回姓名）",
        insutype=chosen.insutype,
        psn_type=psn_type,
        status=status,
        insuplc_admdvs=chosen.insuplc_admdvs[:6] or None,
    )
    before = None
    if person is None:
        person = Person(hospitalized=False, **fields)
        session.add(person)
    else:
        before = {k: getattr(person, k) for k in fields}
        for key, value in fields.items():
            setattr(person, key, value)
    person.learned_at, person.learned_from = at, found.source[:100] or "医保中心"
    person.centre_balance = cents(chosen.balance) if chosen.balance is not None else None
    session.flush()
    opened = None
    local = local_to(chosen.insuplc_admdvs, institution_admdvs)
    has_account = session.scalar(select(Account.id).where(Account.person_id == person.id)) is not None
    if (
        local
        and not has_account
        and chosen.insutype == "310"
        and chosen.balance is not None
        and chosen.balance >= 0
    ):
        account = Account(person_id=person.id, opened_on=at.date(), balance=Decimal("0.00"), version=0)
        session.add(account)
        session.flush()
        ledger.post(session, account, cents(chosen.balance), "opening", "期初余额（医保中心 1101）", at=at)
        opened = fmt(cents(chosen.balance))
    changed = {k: v for k, v in fields.items() if before is None or before.get(k) != v}
    record(
        session,
        actor,
        "registry_1101",
        person.psn_no,
        at=at,
        before={k: before[k] for k in changed} if before else None,
        after={
            **changed,
            "learned_from": person.learned_from,
            **({"account_opened": opened} if opened else {}),
        },
    )
    return person.id
