"""The fast path for well-formed claims: typed decoding of the JSON text in one pass (msgspec).

`parse_claim` (claim.py) checks a claim field by field and names every problem; that care costs
more than the settlement itself. Most claims are well formed, so `fast_claim` decodes the text
straight into typed structs whose constraints are the contract's (codes, patterns, limits), with
the converters built once at import. It never refuses: anything it does not accept outright
(`None`) goes to the careful path, which accepts it or names what is wrong. So the fast path can
only ever accept a subset of what the careful path accepts, giving the same `Claim`; the property
test in tests/engine/test_fast_path.py holds both to that on random and mutated claims.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from .claim import (
    CLASSES,
    KINDS,
    LOCATIONS,
    MAX_CLAIM_CHARS,
    MAX_FAMILY,
    MAX_ITEMS,
    MAX_TEXT,
    PSN_TYPES,
    SELF,
    STATUSES,
    Claim,
    ClaimError,
    ClaimInstitution,
    ClaimPerson,
    Item,
    Provider,
    Ytd,
    _cross_check,
)
from .money import ZERO, cents
from .policy import INSUTYPES, MED_TYPES, RELATIONS

# The careful path's rules, as types: money is ASCII digits with at most two decimals (money.py),
# dates are YYYY-MM-DD (calendar validity checked below), text at most MAX_TEXT characters.
MoneyText = Annotated[str, Meta(pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?\Z")]
RatioText = Annotated[str, Meta(pattern=r"^(0(\.[0-9]{1,40})?|1(\.0{1,40})?)\Z")]
DateText = Annotated[str, Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")]
Text = Annotated[str, Meta(min_length=1, max_length=MAX_TEXT)]
Level = Literal[0, 1, 2, 3]
InsuType = Literal[INSUTYPES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]


class _Ytd(msgspec.Struct, forbid_unknown_fields=True):
    year: Annotated[int, Meta(ge=1900, le=9999)]
    deductible_paid: MoneyText = "0"
    outpatient_pool_paid: MoneyText = "0"


class _Person(msgspec.Struct, forbid_unknown_fields=True):
    psn_no: Text
    insutype: InsuType
    psn_type: Literal[PSN_TYPES]  # type: ignore[valid-type]
    status: Status
    account_balance: MoneyText
    retired_on: DateText | None = None
    hospitalized: bool = False
    ytd: _Ytd | UnsetType = UNSET  # absent is allowed, null is not (as in parse_claim)


class _Institution(msgspec.Struct, forbid_unknown_fields=True):
    code: Text
    level: Level
    kind: Literal[KINDS]  # type: ignore[valid-type]
    designated: bool


class _Provider(msgspec.Struct, forbid_unknown_fields=True):
    psn_no: Text
    relation: Literal[(*RELATIONS, SELF)]  # type: ignore[valid-type]
    insutype: InsuType
    status: Status
    account_balance: MoneyText
    died_on: DateText | None = None
    carried: MoneyText | None = None


class _Item(msgspec.Struct, forbid_unknown_fields=True, rename={"cls": "class"}):
    code: Text
    name: Text
    cls: Literal[CLASSES]  # type: ignore[valid-type]
    amount: MoneyText
    prepay_ratio: RatioText | UnsetType = UNSET  # absent is allowed, null is not
    account_payable: bool = True
    overlmt_amt: MoneyText | UnsetType = UNSET  # an over-limit part: the careful path checks it


class _Claim(msgspec.Struct, forbid_unknown_fields=True):
    policy: Text
    visit_date: DateText
    med_type: Literal[MED_TYPES]  # type: ignore[valid-type]
    institution: _Institution
    location: Literal[LOCATIONS]  # type: ignore[valid-type]
    person: _Person
    items: Annotated[list[_Item], Meta(min_length=1, max_length=MAX_ITEMS)]
    prescribing_level: Level | None = None
    family: Annotated[list[_Provider], Meta(max_length=MAX_FAMILY)] = []
    use_own_account: bool = True
    use_family_account: bool = True


_DECODER = msgspec.json.Decoder(_Claim)
_MONEY: dict[str, Decimal] = {}  # the few thousand amounts seen most: text -> Decimal, bounded below


class _Refer(Exception):
    """Not for the fast path: the careful path decides."""


def _money(text: str) -> Decimal:
    value = _MONEY.get(text)
    if value is None:
        value = cents(Decimal(text))
        if len(_MONEY) < 50_000:
            _MONEY[text] = value
    return value


def _texts_ok(texts: list[str]) -> bool:
    """parse_claim's rule for free text, for all of a claim's at once: not blank, no control characters."""
    return all(map(str.strip, texts)) and "".join(texts).isprintable()


def _date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise _Refer from None


def _ratio(item: _Item) -> Decimal:
    if item.overlmt_amt is not UNSET:
        raise _Refer
    if item.prepay_ratio is UNSET:
        if item.cls == "B":
            raise _Refer  # class B needs its ratio: the careful path says so
        return ZERO
    ratio = Decimal(item.prepay_ratio)
    if item.cls != "B":
        if ratio:
            raise _Refer  # only class B has a pre-pay share (WH-3)
        return ZERO
    return ratio


def fast_claim(text: str | bytes, packs: tuple[str, ...] | None) -> Claim | None:
    """The Claim of a well-formed claim's JSON text, or None: then `parse_claim` decides."""
    if len(text) > MAX_CLAIM_CHARS:
        return None
    try:
        doc = _DECODER.decode(text)
        if packs is not None and doc.policy not in packs:
            return None
        p, inst, family, items = doc.person, doc.institution, doc.family, doc.items
        texts = [
            doc.policy,
            inst.code,
            p.psn_no,
            *[f.psn_no for f in family],
            *[i.code for i in items],
            *[i.name for i in items],
        ]
        if not _texts_ok(texts):
            return None
        visit = _date(doc.visit_date)
        if visit is None:
            raise _Refer  # a claim without its date: parse_claim names the field
        ytd = (
            Ytd(p.ytd.year, _money(p.ytd.deductible_paid), _money(p.ytd.outpatient_pool_paid))
            if p.ytd is not UNSET
            else Ytd(visit.year)
        )
        claim = Claim(
            doc.policy,
            visit,
            doc.med_type,
            ClaimInstitution(inst.code, inst.level, inst.kind, inst.designated),
            doc.prescribing_level,
            doc.location,
            ClaimPerson(
                p.psn_no,
                p.insutype,
                p.psn_type,
                _date(p.retired_on),
                p.status,
                p.hospitalized,
                _money(p.account_balance),
                ytd,
            ),
            tuple(
                [
                    Provider(
                        f.psn_no,
                        f.relation,
                        f.insutype,
                        f.status,
                        _money(f.account_balance),
                        _date(f.died_on) if f.died_on is not None else None,
                        _money(f.carried) if f.carried is not None else None,
                    )
                    for f in family
                ]
            ),
            tuple(
                [
                    Item(
                        i.code,
                        i.name,
                        i.cls,
                        _money(i.amount),
                        ZERO if i.prepay_ratio is UNSET and i.cls != "B" else _ratio(i),
                        i.account_payable,
                    )
                    for i in items
                ]
            ),
            doc.use_own_account,
            doc.use_family_account,
        )
    except Exception:  # noqa: BLE001 - anything unexpected is the careful path's to name
        return None
    problems: list[str] = []
    _cross_check(claim, problems)
    return None if problems else claim


__all__ = ["ClaimError", "fast_claim"]
