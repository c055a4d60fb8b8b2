"""The claim (engine-contract.md, "The claim"): typed values and the parser that checks them.

`parse_claim` reads the contract's JSON shape (already decoded, with JSON numbers as Decimal) and
either returns a `Claim` or raises `ClaimError` carrying one line per problem, each naming its
field (`items[2].amount: not a decimal: "12,5"`). It collects all problems instead of stopping at
the first, so a cashier or an integrator fixes a claim in one pass.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import msgspec

from .money import ZERO, MoneyError, fmt, parse_money, parse_ratio, shown
from .policy import INSUTYPES, MED_TYPES, RELATIONS

LEVELS = (0, 1, 2, 3)
SELF = "self"  # HF-2.1: the patient's own employee account, while that enrolment is suspended
KINDS = ("hospital", "primary_care", "clinic", "pharmacy", "internet")
LOCATIONS = ("local", "referral", "relocated", "offsite")
PSN_TYPES = ("in_service", "retired", "flexible_combined", "flexible_pooling_only")
STATUSES = ("normal", "suspended", "arrears")
CLASSES = ("A", "B", "C")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Limits on what a claim may be (hostile or broken input is refused with the limit named).
MAX_CLAIM_CHARS = 1_000_000  # the claim's JSON text
MAX_ITEMS = 1_000  # fee lines in one claim
MAX_FAMILY = 20  # bound providers listed for one patient
MAX_TEXT = 200  # characters of a code, number or name
MAX_DEPTH = 4  # the contract's claim nests objects and lists at most this deep (claim.items[i].field)


class ClaimError(ValueError):
    """Bad input: `problems` holds one line per problem, each naming the field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Ytd(msgspec.Struct, frozen=True):
    year: int
    deductible_paid: Decimal = ZERO
    outpatient_pool_paid: Decimal = ZERO


class ClaimInstitution(msgspec.Struct, frozen=True):
    code: str
    level: int
    kind: str
    designated: bool


class ClaimPerson(msgspec.Struct, frozen=True):
    psn_no: str
    insutype: str
    psn_type: str
    retired_on: dt.date | None
    status: str
    hospitalized: bool
    account_balance: Decimal
    ytd: Ytd


class Provider(msgspec.Struct, frozen=True):
    """A bound family member whose account may pay (HF-5); `relation` is theirs to the patient."""

    psn_no: str
    relation: str
    insutype: str
    status: str
    account_balance: Decimal
    died_on: dt.date | None = None  # optional in the claim; from that day the account pays nobody
    # optional: what the account carried into this year and still holds (历年结余, decision 9);
    # absent, the whole balance counts as carried, so older claims settle as before
    carried: Decimal | None = None


class Item(msgspec.Struct, frozen=True):
    code: str
    name: str
    cls: str
    amount: Decimal
    prepay_ratio: Decimal = ZERO
    account_payable: bool = True
    overlimit: Decimal = ZERO  # the part of `amount` above the catalogue's price cap (超限价自付)


class Claim(msgspec.Struct, frozen=True):
    policy: str
    visit_date: dt.date
    med_type: str
    institution: ClaimInstitution
    prescribing_level: int | None
    location: str
    person: ClaimPerson
    family: tuple[Provider, ...]
    items: tuple[Item, ...]
    use_own_account: bool = True
    use_family_account: bool = True
    extra: Mapping[str, Any] = msgspec.field(default_factory=dict)


class _Fields:
    """Reads one JSON object, recording problems against dotted paths instead of raising."""

    def __init__(self, problems: list[str], obj: Any, path: str, known: frozenset[str]) -> None:
        self.problems, self.path = problems, path
        self.ok = isinstance(obj, dict)
        self.obj: dict[str, Any] = obj if self.ok else {}
        if not self.ok:
            self.problems.append(f"{path or 'claim'}: expected a JSON object, got {_kind(obj)}")
        elif not known.issuperset(obj):
            self.problems.extend(f"{self.at(shown(key))}: unknown field" for key in obj if key not in known)

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def bad(self, key: str, message: str) -> None:
        self.problems.append(f"{self.at(key)}: {message}")

    def get(self, key: str, convert: Callable[[Any], Any], default: Any = ..., fallback: Any = None) -> Any:
        """The converted value, or `fallback` after recording why it could not be had."""
        try:
            value = self.obj[key]
        except KeyError:
            if default is ...:
                if self.ok:
                    self.bad(key, "missing")
                return fallback
            return default
        try:
            return convert(value)
        except (MoneyError, ValueError, TypeError) as exc:
            self.bad(key, str(exc))
            return fallback


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "null" if value is None else "a number"
    )


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected non-empty text, got {_kind(value)}")
    if len(value) > MAX_TEXT:
        raise ValueError(f"longer than {MAX_TEXT} characters (MAX_TEXT): {len(value)}")
    if not value.isprintable():
        raise ValueError(f"control characters in text: {shown(value)!r}")
    return value


def _code(allowed: tuple[str, ...]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a code string, got {_kind(value)}")
        if value not in allowed:
            raise ValueError(f"unknown code {shown(value)!r} (known: {', '.join(allowed)})")
        return value

    return convert


def _date(value: Any) -> dt.date:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise ValueError(f"not a date YYYY-MM-DD: {shown(repr(value))}")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"not a calendar date: {value!r}") from None


def _optional_date(value: Any) -> dt.date | None:
    return None if value is None else _date(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def _level(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value not in LEVELS:
        raise ValueError(f"unknown level {shown(repr(value))} (known: 0, 1, 2, 3)")
    return int(value)


def _optional_level(value: Any) -> int | None:
    return None if value is None else _level(value)


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 9999:
        raise ValueError(f"not a year: {shown(repr(value))}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {_kind(value)}")
    return value


def _ytd(problems: list[str], obj: Any, path: str, visit: dt.date | None) -> Ytd:
    f = _Fields(problems, obj, path, _YTD_FIELDS)
    return Ytd(
        year=f.get("year", _year, fallback=visit.year if visit else 0),
        deductible_paid=f.get("deductible_paid", parse_money, ZERO, ZERO),
        outpatient_pool_paid=f.get("outpatient_pool_paid", parse_money, ZERO, ZERO),
    )


def _parse_person(problems: list[str], obj: Any, visit: dt.date | None) -> ClaimPerson:
    f = _Fields(problems, obj, "person", _PERSON_FIELDS)
    if "ytd" in f.obj:
        ytd = _ytd(problems, f.obj["ytd"], "person.ytd", visit)
    else:
        ytd = Ytd(visit.year if visit else 0)
    return ClaimPerson(
        psn_no=f.get("psn_no", _text),
        insutype=f.get("insutype", _code(INSUTYPES)),
        psn_type=f.get("psn_type", _code(PSN_TYPES)),
        retired_on=f.get("retired_on", _optional_date, None),
        status=f.get("status", _code(STATUSES)),
        hospitalized=f.get("hospitalized", _flag, False, False),
        account_balance=f.get("account_balance", parse_money, fallback=ZERO),
        ytd=ytd,
    )


def _parse_institution(problems: list[str], obj: Any) -> ClaimInstitution:
    f = _Fields(problems, obj, "institution", _INSTITUTION_FIELDS)
    return ClaimInstitution(
        code=f.get("code", _text),
        level=f.get("level", _level, fallback=0),
        kind=f.get("kind", _code(KINDS)),
        designated=f.get("designated", _flag, fallback=False),
    )


def _provider(problems: list[str], obj: Any, path: str) -> Provider:
    f = _Fields(problems, obj, path, _PROVIDER_FIELDS)
    return Provider(
        psn_no=f.get("psn_no", _text),
        relation=f.get("relation", _code((*RELATIONS, SELF))),
        insutype=f.get("insutype", _code(INSUTYPES)),
        status=f.get("status", _code(STATUSES)),
        account_balance=f.get("account_balance", parse_money, fallback=ZERO),
        died_on=f.get("died_on", _optional_date, None),
        carried=f.get("carried", parse_money, None),
    )


def _item(problems: list[str], obj: Any, path: str) -> Item:
    f = _Fields(problems, obj, path, _ITEM_FIELDS)
    cls = f.get("class", _code(CLASSES))
    ratio = ZERO
    if cls == "B":
        ratio = f.get("prepay_ratio", parse_ratio, fallback=ZERO)
    elif "prepay_ratio" in f.obj:
        # Only class-B items have a pre-pay share (WH-3); a zero sent by habit is harmless.
        given = f.get("prepay_ratio", parse_ratio, fallback=ZERO)
        if given:
            f.bad("prepay_ratio", f"only class B items have a pre-pay ratio (this item is class {cls})")
    amount = f.get("amount", parse_money, fallback=ZERO)
    over = f.get("overlmt_amt", parse_money, ZERO, ZERO)
    if over and cls == "C":
        f.bad("overlmt_amt", "a class C item is wholly self-pay: it has no over-limit part")
    elif over > amount:
        f.bad("overlmt_amt", f"the over-limit part {fmt(over)} exceeds the item's amount {fmt(amount)}")
    return Item(
        code=f.get("code", _text),
        name=f.get("name", _text),
        cls=cls,
        amount=amount,
        prepay_ratio=ratio,
        account_payable=f.get("account_payable", _flag, True, True),
        overlimit=over,
    )


_TOP = frozenset(
    (
        "policy",
        "visit_date",
        "med_type",
        "institution",
        "prescribing_level",
        "location",
        "person",
        "family",
        "use_own_account",
        "use_family_account",
        "items",
    )
)
_YTD_FIELDS = frozenset(("year", "deductible_paid", "outpatient_pool_paid"))
_PERSON_FIELDS = frozenset(
    ("psn_no", "insutype", "psn_type", "retired_on", "status", "hospitalized", "account_balance", "ytd")
)
_INSTITUTION_FIELDS = frozenset(("code", "level", "kind", "designated"))
_PROVIDER_FIELDS = frozenset(
    ("psn_no", "relation", "insutype", "status", "account_balance", "died_on", "carried")
)
_ITEM_FIELDS = frozenset(
    ("code", "name", "class", "amount", "prepay_ratio", "account_payable", "overlmt_amt")
)


def parse_claim(data: Any, packs: tuple[str, ...] | None = None) -> Claim:
    """A checked Claim from decoded JSON; `packs` lists the known pack ids when the caller knows."""
    problems: list[str] = []
    f = _Fields(problems, data, "", _TOP)
    if not f.ok:
        raise ClaimError(problems)
    policy_code = _code(packs) if packs else _text
    visit = f.get("visit_date", _date)
    person = (
        _parse_person(problems, f.obj.get("person"), visit) if "person" in f.obj else f.get("person", _text)
    )
    institution = (
        _parse_institution(problems, f.obj["institution"])
        if "institution" in f.obj
        else f.get("institution", _text)
    )
    family_raw = f.get("family", _list, [], [])
    if len(family_raw) > MAX_FAMILY:
        f.bad("family", f"{len(family_raw)} providers, more than MAX_FAMILY = {MAX_FAMILY}")
        family_raw = family_raw[:MAX_FAMILY]
    family = tuple(_provider(problems, p, f"family[{i}]") for i, p in enumerate(family_raw))
    items_raw = f.get("items", _list, fallback=[])
    if "items" in f.obj and isinstance(f.obj["items"], list) and not items_raw:
        f.bad("items", "a claim needs at least one item")
    if len(items_raw) > MAX_ITEMS:
        f.bad("items", f"{len(items_raw)} items, more than MAX_ITEMS = {MAX_ITEMS}")
        items_raw = items_raw[:MAX_ITEMS]
    items = tuple(_item(problems, it, f"items[{i}]") for i, it in enumerate(items_raw))
    claim = Claim(
        policy=f.get("policy", policy_code),
        visit_date=visit,
        med_type=f.get("med_type", _code(MED_TYPES)),
        institution=institution,
        prescribing_level=f.get("prescribing_level", _optional_level, None),
        location=f.get("location", _code(LOCATIONS)),
        person=person,
        family=family,
        items=items,
        use_own_account=f.get("use_own_account", _flag, True, True),
        use_family_account=f.get("use_family_account", _flag, True, True),
    )
    _cross_check(claim, problems)
    if problems:
        raise ClaimError(problems)
    return claim


def _cross_check(claim: Claim, problems: list[str]) -> None:
    """Problems that involve more than one field."""
    if isinstance(claim.person, ClaimPerson):
        seen = {claim.person.psn_no}
        for i, provider in enumerate(claim.family):
            if provider.carried is not None and provider.carried > provider.account_balance:
                problems.append(
                    f"family[{i}].carried: {fmt(provider.carried)} is more than the account holds "
                    f"({fmt(provider.account_balance)})"
                )
            if provider.relation == SELF:
                if provider.psn_no != claim.person.psn_no:
                    problems.append(
                        f"family[{i}].relation: 'self' is the patient's own employee account, and only it"
                    )
                continue
            if provider.psn_no in seen:
                who = "the patient" if provider.psn_no == claim.person.psn_no else "an earlier provider"
                problems.append(f"family[{i}].psn_no: {provider.psn_no!r} is {who}")
            seen.add(provider.psn_no)
    if claim.prescribing_level is not None and claim.med_type not in ("41", None):
        problems.append("prescribing_level: only a pharmacy purchase (med_type 41) has a prescribing level")


def claim_to_json(claim: Claim) -> dict[str, Any]:
    """The contract's claim JSON for a Claim: what `parse_claim` reads back to the same Claim."""
    p, inst = claim.person, claim.institution
    return {
        "policy": claim.policy,
        "visit_date": claim.visit_date.isoformat(),
        "med_type": claim.med_type,
        "institution": {
            "code": inst.code,
            "level": inst.level,
            "kind": inst.kind,
            "designated": inst.designated,
        },
        "prescribing_level": claim.prescribing_level,
        "location": claim.location,
        "person": {
            "psn_no": p.psn_no,
            "insutype": p.insutype,
            "psn_type": p.psn_type,
            "retired_on": p.retired_on.isoformat() if p.retired_on else None,
            "status": p.status,
            "hospitalized": p.hospitalized,
            "account_balance": fmt(p.account_balance),
            "ytd": {
                "year": p.ytd.year,
                "deductible_paid": fmt(p.ytd.deductible_paid),
                "outpatient_pool_paid": fmt(p.ytd.outpatient_pool_paid),
            },
        },
        "family": [
            {
                "psn_no": f.psn_no,
                "relation": f.relation,
                "insutype": f.insutype,
                "status": f.status,
                "account_balance": fmt(f.account_balance),
                **({"died_on": f.died_on.isoformat()} if f.died_on else {}),
                **({"carried": fmt(f.carried)} if f.carried is not None else {}),
            }
            for f in claim.family
        ],
        "use_own_account": claim.use_own_account,
        "use_family_account": claim.use_family_account,
        "items": [
            {
                "code": i.code,
                "name": i.name,
                "class": i.cls,
                "amount": fmt(i.amount),
                **({"prepay_ratio": str(i.prepay_ratio)} if i.cls == "B" else {}),
                "account_payable": i.account_payable,
                **({"overlmt_amt": fmt(i.overlimit)} if i.overlimit else {}),
            }
            for i in claim.items
        ],
    }
