"""Finding the person at the counter from what was scanned or typed (WH-26).

An 18-character input shaped like a resident ID is checked as one (checksum, birth date) and a
bad one is refused with the reason. With a centre, every scan is asked of it (1101, `scan`): its
answer is the truth and updates the registry, which is then the offline cache. Without one (a
training counter, the demo), the counter's own registry answers: a card or e-voucher code, then
a psn_no (`find_person`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .. import identity
from ..engine.money import ZERO
from ..store import Database
from ..store.models import Account, Credential, FamilyBinding, Institution, Person, YearTotal
from . import registry
from .actor import Actor
from .errors import CentreRefused, CentreUnavailable, NotFound, ServiceError

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
    cert_type: str = (
        "02"  # what was scanned, as the platform's mdtrt_cert_type (01 e-voucher, 02 ID, 03 card)
    )
    cert_no: str = ""  # and its number (mdtrt_cert_no); the ID number when nothing else was scanned
    insuplc_admdvs: str = ""  # place of insurance, from 1101 ("": not learned; the institution's own area)
    out_of_area: bool = False  # insured in another city: settled by the centre only (decision 12)
    learned_at: dt.datetime | None = None  # when the centre last told the counter about this person
    learned_from: str = ""
    online: bool = False  # confirmed by the centre at this scan (1101); False: from the counter's cache

    @property
    def masked_certno(self) -> str:
        return identity.mask(self.certno)

    def source_note(self, now: dt.datetime) -> str:
        """Where the information on screen comes from, and how old it is."""
        if self.online:
            return "医保中心实时信息（1101）"
        if self.learned_at is None:
            return "本地登记信息，未经医保中心核验"
        return f"离线：{self.learned_at:%Y-%m-%d %H:%M} 从医保中心获取（{age(now - self.learned_at)}前）"


def age(elapsed: dt.timedelta) -> str:
    """An age in the largest whole unit: 5 分钟, 3 小时, 2 天."""
    seconds = max(0, int(elapsed.total_seconds()))
    if seconds < 3600:
        return f"{max(1, seconds // 60)} 分钟"
    if seconds < 86400:
        return f"{seconds // 3600} 小时"
    return f"{seconds // 86400} 天"


@dataclass(frozen=True, slots=True)
class Scanned:
    """Who was found, and by which credential (it goes upstream as mdtrt_cert_type / _no)."""

    person_id: int
    cert_type: str
    cert_no: str


CERT_TYPES = {"evoucher": "01", "card": "03"}  # Credential.kind -> mdtrt_cert_type; 02 is the resident ID


def find_person_id(session: Session, scanned: str) -> int:
    return find_person(session, scanned).person_id


def _checked(scanned: str) -> str:
    text = scanned.strip() if isinstance(scanned, str) else ""
    if not text:
        raise ServiceError("请扫描或输入医保电子凭证、社保卡或身份证号")
    if len(text) > MAX_SCAN:
        raise ServiceError(f"扫描内容过长（{len(text)} 个字符，最多 {MAX_SCAN} 个），请重新扫描")
    if not text.isprintable():
        raise ServiceError("扫描内容含有控制字符，请重新扫描或手工输入")
    return text


def find_person(session: Session, scanned: str) -> Scanned:
    """The person in the counter's own registry (no centre asked)."""
    text = _checked(scanned)
    if _CERTNO_SHAPE.fullmatch(text):
        certno = identity.normalise(text)  # raises CertnoError naming what is wrong
        found = session.scalar(select(Person.id).where(Person.certno == certno))
        if found is None:
            raise NotFound(f"未找到身份证号为 {identity.mask(certno)} 的参保人")
        return Scanned(found, "02", certno)
    credential = session.execute(
        select(Credential.person_id, Credential.kind).where(Credential.code == text)
    ).first()
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
        select(
            func.coalesce(func.sum(YearTotal.deductible_paid), ZERO).label("deductible"),
            func.coalesce(func.sum(YearTotal.outpatient_pool_paid), ZERO).label("pooled"),
        ).where(YearTotal.person_id == person_id, YearTotal.year == year)
    ).one()
    return row.deductible, row.pooled  # coalesce keeps the Money type: exact Decimals on every dialect


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
        views.append(
            ProviderView(
                binding.id,
                provider.psn_no,
                provider.name,
                provider_relation(binding.relation, provider.certno),
                provider.insutype,
                provider.status,
                balance,
                is_open,
            )
        )
    return tuple(views)


def person_view(
    session: Session,
    person_id: int,
    year: int,
    *,
    institution_admdvs: str | None = None,
    online: bool = False,
) -> PersonView:
    """The person on screen; with `institution_admdvs`, whether they are insured elsewhere."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"未找到参保人（内部编号 {person_id}）")
    account = session.scalar(select(Account).where(Account.person_id == person_id))
    balance, is_open = account_state(account)
    deductible, pooled = year_totals(session, person_id, year)
    place = person.insuplc_admdvs or ""
    elsewhere = institution_admdvs is not None and not registry.local_to(place, institution_admdvs)
    return PersonView(
        person.id,
        person.psn_no,
        person.certno,
        person.name,
        person.insutype,
        person.psn_type,
        person.retired_on,
        person.status,
        person.hospitalized,
        balance,
        is_open,
        year,
        deductible,
        pooled,
        providers_of(session, person_id),
        "02",
        person.certno,
        insuplc_admdvs=place,
        out_of_area=elsewhere,
        learned_at=person.learned_at,
        learned_from=person.learned_from or "",
        online=online,
    )


# ----- the scan, asked of the centre (1101) when the counter has one

_CARD_SHAPE = re.compile(r"([A-Z0-9]{9})(?:\|([0-9A-Za-z]{1,32}))?")


@dataclass(frozen=True, slots=True)
class ScanText:
    """What a scan is, as the platform's credential: 01 e-voucher (the code as read), 02 resident
    ID, 03 social-security card (its 9-character number; a card reader adds `|card_sn`, the card's
    identification code)."""

    cert_type: str
    cert_no: str
    card_sn: str = ""


def read_scan(scanned: str) -> ScanText:
    """Classify a scan, refusing what cannot be one (with the reason)."""
    text = _checked(scanned)
    if _CERTNO_SHAPE.fullmatch(text):
        return ScanText("02", identity.normalise(text))  # raises CertnoError naming what is wrong
    card = _CARD_SHAPE.fullmatch(text)
    if card:
        return ScanText("03", card.group(1), card.group(2) or "")
    return ScanText("01", text)


class PersonSource(Protocol):
    """The centre, asked who a scanned person is (sync's CentreLink)."""

    def person_info(
        self,
        institution_code: str,
        operator: str,
        operator_name: str,
        cert_type: str,
        cert_no: str,
        card_sn: str = "",
    ) -> registry.CentrePerson: ...


@dataclass(frozen=True, slots=True)
class Choice:
    """The centre knows the person under several insurances: the cashier picks one (adopt)."""

    found: registry.CentrePerson
    scan: ScanText


def scan(
    db: Database,
    actor: Actor,
    scanned: str,
    year: int,
    source: PersonSource | None = None,
    *,
    now: dt.datetime | None = None,
) -> PersonView | Choice:
    """Who was scanned. With a centre (`source`), 1101 is asked and its answer updates the registry;
    if the centre cannot be reached, the cached person is used (the view says how old it is) except
    for an e-voucher, which only the centre can resolve. Without a centre (training, the demo), the
    counter's own registry answers."""
    at = now or dt.datetime.now()
    with db.sessions() as session:
        admdvs = _institution_admdvs(session, actor.institution_code)
        if source is None:
            found = find_person(session, scanned)
            return replace(
                person_view(session, found.person_id, year, institution_admdvs=admdvs),
                cert_type=found.cert_type,
                cert_no=found.cert_no,
            )
        what = read_scan(scanned)
        if what.cert_type == "01":  # a typed psn_no of someone the counter knows: asked by the ID number
            known = session.execute(select(Person.certno).where(Person.psn_no == what.cert_no)).first()
            if known is not None:
                what = ScanText("02", known.certno)
    try:
        answer = source.person_info(
            actor.institution_code, actor.staff_no, actor.name, what.cert_type, what.cert_no, what.card_sn
        )
    except CentreUnavailable as exc:
        return _offline(db, what, year, admdvs, exc)
    except CentreRefused as exc:
        raise NotFound(f"医保中心查询不到该参保人：{exc.message}") from None
    if not answer.insurances:
        raise NotFound(f"医保中心：{answer.name or answer.psn_no} 没有参保记录")
    choice = Choice(answer, what)
    if len(answer.insurances) > 1:
        return choice
    return adopt(db, actor, choice, 0, year, now=at)


def adopt(
    db: Database, actor: Actor, choice: Choice, index: int, year: int, *, now: dt.datetime | None = None
) -> PersonView:
    """The centre's answer, with the insurance record the cashier chose, into the registry."""
    at = now or dt.datetime.now()
    if not 0 <= index < len(choice.found.insurances):
        raise ServiceError(f"没有第 {index + 1} 条参保记录")
    with db.transaction() as session:
        admdvs = _institution_admdvs(session, actor.institution_code)
        person_id = registry.remember(
            session, actor, choice.found, choice.found.insurances[index], institution_admdvs=admdvs, at=at
        )
        if choice.scan.cert_type == "03":  # a card seen online resolves offline later
            exists = session.scalar(
                select(Credential.id).where(Credential.kind == "card", Credential.code == choice.scan.cert_no)
            )
            if exists is None:
                session.add(Credential(person_id=person_id, kind="card", code=choice.scan.cert_no))
        view = person_view(session, person_id, year, institution_admdvs=admdvs, online=True)
    return replace(view, cert_type=choice.scan.cert_type, cert_no=choice.scan.cert_no)


def _offline(db: Database, what: ScanText, year: int, admdvs: str, why: CentreUnavailable) -> PersonView:
    if what.cert_type == "01":
        raise ServiceError(f"医保电子凭证须由医保中心核验，{why.message}：请改用身份证或社保卡")
    with db.sessions() as session:
        if what.cert_type == "02":
            person_id = session.scalar(select(Person.id).where(Person.certno == what.cert_no))
        else:
            person_id = session.scalar(
                select(Credential.person_id).where(Credential.kind == "card", Credential.code == what.cert_no)
            )
        if person_id is None:
            raise NotFound(f"{why.message}，本地也没有此人的登记：请联网后再试")
        view = person_view(session, person_id, year, institution_admdvs=admdvs)
    return replace(view, cert_type=what.cert_type, cert_no=what.cert_no)


def _institution_admdvs(session: Session, code: str) -> str:
    admdvs = session.scalar(select(Institution.admdvs).where(Institution.code == code))
    if admdvs is None:
        raise NotFound(f"未知的定点机构编码：{code}")
    return admdvs
