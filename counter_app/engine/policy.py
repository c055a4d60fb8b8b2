"""Policy packs: a region's numbers as data, each beside the rule id that gives it (WH-17).

A pack is read from TOML by `counter_app.policies` (the only I/O); this module turns the parsed
mapping into typed, validated values. A pack that is malformed is refused as a whole with a
`PackError` naming the key, so a wrong number can never reach a settlement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .money import MoneyError, cents, to_decimal

FAMILY_SCOPES = ("policy_selfpay", "personal_burden")
RELATIONS = ("father", "mother", "spouse", "child")
MED_TYPES = ("11", "13", "14", "21", "41", "51", "52")
INSUTYPES = ("310", "390", "510")
PROOF_KINDS = ("marriage_certificate", "household_register", "birth_certificate", "other")


class PackError(ValueError):
    """A policy pack that cannot be used; the message names the pack and the key."""


@dataclass(frozen=True, slots=True)
class Ruled:
    """A number from the seeds and the rule id that gives it."""

    value: Decimal
    rule: str


DRAWS_FROM = ("balance", "carried")


@dataclass(frozen=True, slots=True)
class CommitmentWording:
    """The commitment a provider signs (HF-3's attachment): its title, the preamble naming the
    beneficiary (`{beneficiary}`, `{relation}`), and the promises, in the document's order."""

    rule: str
    title: str
    preamble: str
    promises: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FamilyRules:
    """Who may draw on whose account, and for what (HF-1..6, WH-8 (2), WH-25)."""

    scope: str
    scope_rule: str
    relations: tuple[str, ...]
    provider_insutypes: tuple[str, ...]
    provider_rule: str
    beneficiary_insutypes: tuple[str, ...]
    beneficiary_rule: str
    med_types: tuple[str, ...]
    max_per_relation: Mapping[str, int] | None  # None: the pack's seed sets no limit
    max_total: int | None
    limits_rule: str | None
    ended_rule: str = (
        "HF-2.2"  # why a provider who has died, transferred out or closed the account pays nobody
    )
    proofs_required: bool = False  # must a binding carry a proof of the relation (WH-25)?
    proof_kinds: Mapping[str, tuple[str, ...]] | None = None  # relation -> proof kinds that prove it
    proofs_rule: str | None = None
    self_rule: str | None = (
        None  # HF-2.1: a person's own suspended employee account may pay their resident costs
    )
    commitment: CommitmentWording | None = None  # None: the pack prints no commitment of its own
    # what a relative may draw: the whole balance (WH-8 (2)), or only the carried-over pot
    # (历年结余: HF-3's commitment, decision 9), with the rule that says so
    draws_from: str = "balance"
    draws_from_rule: str | None = None


@dataclass(frozen=True, slots=True)
class OutpatientPool:
    """One period of outpatient pooling numbers (WH-14..18); periods change by effective date."""

    effective_from: dt.date
    insutypes: tuple[str, ...]
    med_types: tuple[str, ...]
    pharmacy_med_type: str
    min_prescribing_level: int
    deductible: Ruled
    annual_cap: Ruled
    ratio_in_service: Mapping[int, Decimal]  # level tier 1..3 (level 0 shares tier 1)
    ratio_rule: str
    retiree_extra: Ruled
    referral_in_service: Ruled
    referral_retired: Ruled


@dataclass(frozen=True, slots=True)
class CreditingPeriod:
    """Monthly crediting of personal accounts (WH-6) from an effective date (WH-17, WH-36)."""

    effective_from: dt.date
    employee_rate: Ruled  # share of the person's own contribution base, WH-6 (1)
    retiree_monthly: Ruled  # flat amount from the pooling fund, WH-6 (2)


@dataclass(frozen=True, slots=True)
class PolicyPack:
    id: str
    name: str
    version: str
    effective_from: dt.date
    effective_rule: str
    family: FamilyRules
    outpatient_pool: tuple[OutpatientPool, ...]  # sorted by effective_from; empty: no section
    crediting: tuple[CreditingPeriod, ...] = ()  # sorted by effective_from; empty: the seed sets none
    short_name: str = ""  # what a patient's slip prints: no draft wording ("征求意见稿"); "" = name

    def crediting_for(self, month: dt.date) -> CreditingPeriod | None:
        """The crediting period in force for a month (its first day), if any."""
        chosen = None
        for period in self.crediting:
            if period.effective_from <= month:
                chosen = period
        return chosen

    def pool_for(self, visit: dt.date) -> OutpatientPool | None:
        """The outpatient pooling period in force on the visit date, if any."""
        chosen = None
        for period in self.outpatient_pool:
            if period.effective_from <= visit:
                chosen = period
        return chosen


class _Reader:
    """Reads one table of a pack, naming the dotted key in every error."""

    def __init__(self, pack_id: str, table: Mapping[str, Any], where: str = "") -> None:
        if not isinstance(table, Mapping):
            raise PackError(f"policy pack {pack_id}: {where or 'top level'}: expected a table")
        self.pack_id, self.table, self.where = pack_id, table, where

    def _key(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> PackError:
        return PackError(f"policy pack {self.pack_id}: {self._key(key)}: {message}")

    def raw(self, key: str) -> Any:
        if key not in self.table:
            raise self.fail(key, "missing")
        return self.table[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"expected non-empty text, got {value!r}")
        return value

    def date(self, key: str) -> dt.date:
        value = self.raw(key)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise self.fail(key, f"expected a date YYYY-MM-DD, got {value!r}") from None

    def decimal(self, key: str, low: Decimal, high: Decimal | None = None) -> Decimal:
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.fail(key, f'numbers are written as strings ("0.55"), got {value!r}')
        try:
            number = to_decimal(value)
        except MoneyError as exc:
            raise self.fail(key, str(exc)) from None
        if not number.is_finite() or number < low or (high is not None and number > high):
            raise self.fail(key, f"{value} is outside [{low}, {high if high is not None else '∞'}]")
        return number

    def ruled(self, key: str, low: Decimal, high: Decimal | None = None, money: bool = False) -> Ruled:
        sub = self.sub(key)
        number = sub.decimal("value", low, high)
        if money and number != cents(number):
            raise sub.fail("value", f"money has at most two decimals, got {number}")
        return Ruled(number, sub.text("rule"))

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value

    def codes(self, key: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a non-empty list")
        for code in value:
            if code not in allowed:
                raise self.fail(key, f"unknown code {code!r} (known: {', '.join(allowed)})")
        return tuple(value)

    def integer(self, key: str, low: int, high: int) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(key, f"expected a whole number in [{low}, {high}], got {value!r}")
        return value

    def sub(self, key: str) -> _Reader:
        return _Reader(self.pack_id, self.raw(key), self._key(key))


def _family(r: _Reader) -> FamilyRules:
    relations = r.codes("relations", RELATIONS)
    per_relation = max_total = limits_rule = None
    if "limits" in r.table:
        limits = r.sub("limits")
        per_relation = {rel: limits.integer(rel, 0, 99) for rel in relations}
        max_total, limits_rule = limits.integer("total", 1, 99), limits.text("rule")
    proofs_required, proof_kinds, proofs_rule = False, None, None
    if "proofs" in r.table:
        proofs = r.sub("proofs")
        proofs_required, proofs_rule = proofs.flag("required"), proofs.text("rule")
        proof_kinds = {rel: proofs.codes(rel, PROOF_KINDS) for rel in relations}
    wording = None
    if "commitment" in r.table:
        c = r.sub("commitment")
        promises = c.raw("promises")
        if (
            not isinstance(promises, list)
            or not promises
            or not all(isinstance(p, str) and p.strip() for p in promises)
        ):
            raise c.fail("promises", "expected a non-empty list of texts")
        preamble = c.text("preamble")
        if "{beneficiary}" not in preamble or "{relation}" not in preamble:
            raise c.fail("preamble", "must name the beneficiary: {beneficiary} and {relation}")
        wording = CommitmentWording(c.text("rule"), c.text("title"), preamble, tuple(promises))
    draws_from, draws_from_rule = "balance", None
    if "draws_from" in r.table:
        draws_from, draws_from_rule = _one_of(r, "draws_from", DRAWS_FROM), r.text("draws_from_rule")
    return FamilyRules(
        draws_from=draws_from,
        draws_from_rule=draws_from_rule,
        commitment=wording,
        proofs_required=proofs_required,
        proof_kinds=proof_kinds,
        proofs_rule=proofs_rule,
        self_rule=r.text("self_rule") if "self_rule" in r.table else None,
        scope=_one_of(r, "scope", FAMILY_SCOPES),
        scope_rule=r.text("scope_rule"),
        relations=relations,
        provider_insutypes=r.codes("provider_insutypes", INSUTYPES),
        provider_rule=r.text("provider_rule"),
        beneficiary_insutypes=r.codes("beneficiary_insutypes", INSUTYPES),
        beneficiary_rule=r.text("beneficiary_rule"),
        med_types=r.codes("med_types", MED_TYPES),
        max_per_relation=per_relation,
        max_total=max_total,
        limits_rule=limits_rule,
        ended_rule=r.text("ended_rule") if "ended_rule" in r.table else r.text("provider_rule"),
    )


def _one_of(r: _Reader, key: str, allowed: tuple[str, ...]) -> str:
    value = r.text(key)
    if value not in allowed:
        raise r.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _pool(r: _Reader) -> OutpatientPool:
    ratios = r.sub("ratio_in_service")
    one = Decimal(1)
    by_tier = {tier: ratios.decimal(str(tier), Decimal(0), one) for tier in (1, 2, 3)}
    return OutpatientPool(
        effective_from=r.date("effective_from"),
        insutypes=r.codes("insutypes", INSUTYPES),
        med_types=r.codes("med_types", MED_TYPES),
        pharmacy_med_type=_one_of(r, "pharmacy_med_type", MED_TYPES),
        min_prescribing_level=r.integer("min_prescribing_level", 0, 3),
        deductible=r.ruled("deductible", Decimal(0), money=True),
        annual_cap=r.ruled("annual_cap", Decimal(0), money=True),
        ratio_in_service=by_tier,
        ratio_rule=ratios.text("rule"),
        retiree_extra=r.ruled("retiree_extra", Decimal(0), one),
        referral_in_service=r.ruled("referral_in_service", Decimal(0), one),
        referral_retired=r.ruled("referral_retired", Decimal(0), one),
    )


def _crediting(r: _Reader) -> CreditingPeriod:
    return CreditingPeriod(
        effective_from=r.date("effective_from"),
        employee_rate=r.ruled("employee_rate", Decimal(0), Decimal(1)),
        retiree_monthly=r.ruled("retiree_monthly", Decimal(0), money=True),
    )


def pack_from_mapping(pack_id: str, data: Mapping[str, Any]) -> PolicyPack:
    """Validate a parsed pack; raises PackError naming the first key that is wrong."""
    r = _Reader(pack_id, data)
    if r.text("id") != pack_id:
        raise r.fail("id", f"{data['id']!r} does not match the file name {pack_id!r}")
    periods = data.get("outpatient_pool", [])
    if not isinstance(periods, list):
        raise r.fail("outpatient_pool", "expected an array of tables [[outpatient_pool]]")
    pools = tuple(
        sorted(
            (_pool(_Reader(pack_id, p, f"outpatient_pool[{i}]")) for i, p in enumerate(periods)),
            key=lambda p: p.effective_from,
        )
    )
    credit_periods = data.get("account_crediting", [])
    if not isinstance(credit_periods, list):
        raise r.fail("account_crediting", "expected an array of tables [[account_crediting]]")
    crediting = tuple(
        sorted(
            (
                _crediting(_Reader(pack_id, c, f"account_crediting[{i}]"))
                for i, c in enumerate(credit_periods)
            ),
            key=lambda c: c.effective_from,
        )
    )
    pack = PolicyPack(
        id=pack_id,
        name=r.text("name"),
        version=r.text("version"),
        effective_from=r.date("effective_from"),
        effective_rule=r.text("effective_rule"),
        family=_family(r.sub("family")),
        outpatient_pool=pools,
        crediting=crediting,
        short_name=str(data.get("short_name") or r.text("name")),
    )
    if pools and pools[0].effective_from < pack.effective_from:
        raise r.fail("outpatient_pool[0].effective_from", "is before the pack's own effective_from")
    return pack
