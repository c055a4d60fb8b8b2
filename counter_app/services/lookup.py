"""Finding the person at the counter from what was scanned or typed (WH-26).

An 18-character input shaped like a resident ID is checked as one (checksum, birth date) and a
bad one is refused with the reason; anything else is looked up as a card or e-voucher code, then
as a psn_no.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import identity
from ..engine.money import ZERO
from ..store.models import Account, Credential, FamilyBinding, Person, YearTotal
from .errors import NotFound, ServiceError

_CERTNO_SHAPE = re.compile(r"[0-9]{17}[0-9Xx]")
MAX_SCAN = 512  # longer than any e-voucher code, card number or ID: a paste gone wrong


@dataclass(frozen=True, slots=True)
class ProviderView:
    """A bound provider as the patient's counter sees them."""

    binding_id: int
    psn_no: str
    name: str
    relation: str  # the provider's relation to the patient (claim convention)
    insutype: str
    status: str
    balance: Decimal
    account_open: bool


@dataclass(frozen=True, slots=True)
class PersonView:
    id: int
    psn_no: str
    certno: str
    name: str
    insutype: str
    psn_type: str
    retired_on: dt.date | None
    status: str
    hospitalized: bool
    balance: Decimal
    account_open: bool
    year: int
    deductible_paid: Decimal
    outpatient_pool_paid: Decimal
    providers: tuple[ProviderView, ...]
    cert_type: str = "02"  # what was scanned, as the platform's mdtrt_cert_type (01 e-voucher, 02 ID, 03 card)
    cert_no: str = ""  # and its number (mdtrt_cert_no); the ID number when nothing else was scanned

    @property
    def masked_certno(self) -> str:
        return identity.mask(self.certno)


@dataclass(frozen=True, slots=True)
class Scanned:
    """Who was found, and by which credential (it goes upstream as mdtrt_cert_type / _no)."""

    person_id: int
    cert_type: str
    cert_no: str


CERT_TYPES = {"evoucher": "01", "card": "03"}  # Credential.kind -> mdtrt_cert_type; 02 is the resident ID


def find_person_id(session: Session, scanned: str) -> int:
    return find_person(session, scanned).person_id


def find_person(session: Session, scanned: str) -> Scanned:
    text = scanned.strip() if isinstance(scanned, str) else ""
    if not text:
        raise ServiceError("请扫描或输入医保电子凭证、社保卡或身份证号")
    if len(text) > MAX_SCAN:
        raise ServiceError(f"扫描内容过长（{len(text)} 个字符，最多 {MAX_SCAN} 个），请重新扫描")
    if not text.isprintable():
        raise ServiceError("扫描内容含有控制字符，请重新扫描或手工输入")
    if _CERTNO_SHAPE.fullmatch(text):
        certno = identity.normalise(text)  # raises CertnoError naming what is wrong
        found = session.scalar(select(Person.id).where(Person.certno == certno))
        if found is None:
            raise NotFound(f"未找到身份证号为 {identity.mask(certno)} 的参保人")
        return Scanned(found, "02", certno)
    credential = session.execute(select(Credential.person_id, Credential.kind).where(Credential.code == text)).first()
    if credential is not None:
        return Scanned(credential[0], CERT_TYPES.get(credential[1], "01"), text)
    person = session.execute(select(Person.id, Person.certno).where(Person.psn_no == text)).first()
    if person is None:
        raise NotFound(f"未找到参保人：{text[:40]}")
    return Scanned(person[0], "02", person[1])  # a typed psn_no: the person is known by the ID number


def provider_relation(declared: str, provider_certno: str) -> str:
    """The provider's relation to the beneficiary, from the beneficiary's declared relation to the
    provider (HF-6 counts those): a child's provider is their father or mother, and so on."""
    if declared in ("spouse", "self"):
        return declared
    if declared == "child":
        return "father" if identity.is_male(provider_certno) else "mother"
    return "child"  # the beneficiary is the provider's father or mother


def year_totals(session: Session, person_id: int, year: int) -> tuple[Decimal, Decimal]:
    row = session.execute(
        select(func.coalesce(func.sum(YearTotal.deductible_paid), ZERO),
               func.coalesce(func.sum(YearTotal.outpatient_pool_paid), ZERO))
        .where(YearTotal.person_id == person_id, YearTotal.year == year)
    ).one()
    return row[0], row[1]  # coalesce keeps the Money type: exact Decimals on every dialect


def account_state(account: Account | None) -> tuple[Decimal, bool]:
    if account is None or account.closed_on is not None:
        return ZERO, False
    return account.balance, True


def providers_of(session: Session, person_id: int) -> tuple[ProviderView, ...]:
    """The patient's active providers in binding order, oldest first (decision 3)."""
    rows = session.execute(
        select(FamilyBinding, Person, Account)
        .join(Person, Person.id == FamilyBinding.provider_id)
        .outerjoin(Account, Account.person_id == Person.id)
        .where(FamilyBinding.beneficiary_id == person_id, FamilyBinding.ended_at.is_(None))
        .order_by(FamilyBinding.bound_at, FamilyBinding.id)
    ).all()
    views = []
    for binding, provider, account in rows:
        balance, is_open = account_state(account)
        views.append(ProviderView(binding.id, provider.psn_no, provider.name,
                                  provider_relation(binding.relation, provider.certno),
                                  provider.insutype, provider.status, balance, is_open))
    return tuple(views)


def person_view(session: Session, person_id: int, year: int) -> PersonView:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"未找到参保人（内部编号 {person_id}）")
    account = session.scalar(select(Account).where(Account.person_id == person_id))
    balance, is_open = account_state(account)
    deductible, pooled = year_totals(session, person_id, year)
    return PersonView(person.id, person.psn_no, person.certno, person.name, person.insutype, person.psn_type,
                      person.retired_on, person.status, person.hospitalized, balance, is_open, year,
                      deductible, pooled, providers_of(session, person_id), "02", person.certno)
