"""Outpatient pooling (门诊共济): whether it applies to a claim, at what ratio, and how much it pays.

Follows engine-contract.md "How the money moves" and WH-14..24. `decide` returns either the ratio
and the rule ids that chose it, or the reason (with rule id) pooling does not apply; `pay` then
computes deductible and fund payment (WH-15, WH-16, WH-18).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import msgspec

from .claim import Claim, ClaimPerson, Ytd
from .money import ZERO, cents, fmt
from .policy import OutpatientPool, PolicyPack

MED_TYPE_NAMES = {
    "11": "general outpatient",
    "13": "emergency",
    "14": "outpatient chronic/special disease",
    "21": "inpatient",
    "41": "pharmacy purchase",
    "51": "maternity outpatient",
    "52": "maternity inpatient",
}
_INPATIENT = ("21", "52")
_OWN_RULES = ("14", "21", "51", "52")  # paid under their own (inpatient, special disease, maternity) rules


class PoolDecision(msgspec.Struct, frozen=True):
    applies: bool
    reason: str
    period: OutpatientPool | None = None
    ratio: Decimal = ZERO
    ratio_note: str = ""


class PoolPayment(msgspec.Struct, frozen=True):
    deductible_met: Decimal
    fund: Decimal
    trace: tuple[tuple[str, str], ...]


def first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def is_retiree(person: ClaimPerson, visit: dt.date) -> bool:
    """Retiree benefits from the 1st of the month after retirement (WH-21)."""
    if person.retired_on is not None:
        return visit >= first_of_next_month(person.retired_on)
    return person.psn_type == "retired"


def _no(reason: str) -> PoolDecision:
    return PoolDecision(False, reason)


def decide(claim: Claim, pack: PolicyPack) -> PoolDecision:
    """Does outpatient pooling apply, and at what ratio? Each refusal names its rule id."""
    med, inst, person = claim.med_type, claim.institution, claim.person
    name = MED_TYPE_NAMES[med]
    period = pack.pool_for(claim.visit_date)
    if not pack.outpatient_pool:
        section = "inpatient" if med in _INPATIENT else "outpatient pooling"
        return _no(f"{pack.id}: the policy has no {section} section, so no fund payment")
    if period is None:
        first = pack.outpatient_pool[0].effective_from
        return _no(f"WH-36: outpatient pooling starts {first.isoformat()}")
    if med in _OWN_RULES:
        extra = f"; {pack.id} has no inpatient section, so no fund payment" if med in _INPATIENT else ""
        return _no(f"WH-22 (3): {name} ({med}) is not paid by outpatient pooling{extra}")
    if person.insutype not in period.insutypes:
        return _no(f"WH-2: outpatient mutual aid covers employees only (insutype {person.insutype})")
    if person.status != "normal":
        return _no(f"WH-22 (1): not paying contributions as required ({person.status})")
    if person.hospitalized:
        return _no("WH-22 (2): hospitalized, outpatient costs during a stay are not covered")
    if claim.location == "offsite":
        return _no("WH-15 (2): out of area without referral or relocation filing")
    if inst.kind == "clinic":
        return _no("WH-14: a village or private clinic is below the township/community-centre floor")
    if med == period.pharmacy_med_type:
        if inst.kind != "pharmacy":
            return _no(f"WH-14: med_type {med} is a purchase at a designated pharmacy, not a {inst.kind}")
        if not inst.designated:
            return _no("WH-14: not a designated pharmacy")
        if claim.location in ("referral", "relocated"):  # WH-15 (2), WH-29 name medical institutions
            return _no(
                f"WH-14: pharmacy pooling covers designated pharmacies in the city only, not a purchase "
                f"marked {claim.location} (decision 10)"
            )
        level = claim.prescribing_level
        if level is None or level < period.min_prescribing_level:
            return _no(
                f"WH-14: pharmacy pooling needs an outside prescription from a level-"
                f"{period.min_prescribing_level}-or-above institution"
                + ("" if level is None else f" (prescribed at level {level})")
            )
        tier_source = f"WH-23: prescribing institution level {level}"
    elif med in period.med_types:
        if inst.kind == "pharmacy":
            return _no(
                f"WH-14: a pharmacy is covered only for outside prescriptions ({period.pharmacy_med_type})"
            )
        if not inst.designated and med != "13":
            return _no("WH-14: not a designated institution")
        level = inst.level
        tier_source = (
            f"WH-24: internet hospital, physical institution level {level}"
            if inst.kind == "internet"
            else f"level {level}"
        )
    else:
        return _no(f"WH-14: {name} ({med}) is not general outpatient")
    ratio, note = _ratio(claim, period, level, tier_source)
    return PoolDecision(True, f"WH-14: {name}, {note}", period, ratio, note)


def _ratio(claim: Claim, period: OutpatientPool, level: int, source: str) -> tuple[Decimal, str]:
    retired = is_retiree(claim.person, claim.visit_date)
    who = "retiree" if retired else "in service"
    if claim.location == "referral":
        ruled = period.referral_retired if retired else period.referral_in_service
        return ruled.value, f"{ruled.rule}: referred out of area, {who} {ruled.value}"
    base = period.ratio_in_service[max(level, 1)]
    where = "relocated, local ratio, " if claim.location == "relocated" else ""
    if retired:
        ratio = base + period.retiree_extra.value
        return (
            ratio,
            f"{period.retiree_extra.rule}: {where}{source}, retiree {base} + {period.retiree_extra.value} = {ratio}",
        )
    return base, f"{period.ratio_rule}: {where}{source}, in service {base}"


def pay(decision: PoolDecision, scope_amount: Decimal, ytd: Ytd) -> PoolPayment:
    """Deductible then fund: WH-15 deductible, WH-18 formula, WH-16 annual cap."""
    period = decision.period
    if not decision.applies or period is None:
        return PoolPayment(ZERO, ZERO, ())
    deductible, cap = period.deductible, period.annual_cap
    left = max(ZERO, deductible.value - ytd.deductible_paid)
    met = min(scope_amount, left)
    formula = cents((scope_amount - met) * decision.ratio)
    room = max(ZERO, cap.value - ytd.outpatient_pool_paid)
    fund = min(formula, room)
    trace = [
        (
            deductible.rule,
            f"deductible {fmt(deductible.value)}, met before {fmt(ytd.deductible_paid)}, "
            f"met by this claim {fmt(met)}",
        ),
        ("WH-18", f"({fmt(scope_amount)} - {fmt(met)}) x {decision.ratio} = {fmt(formula)}"),
    ]
    if fund < formula:
        trace.append(
            (
                cap.rule,
                f"annual cap {fmt(cap.value)}, paid before {fmt(ytd.outpatient_pool_paid)}: "
                f"fund pays {fmt(fund)}",
            )
        )
    return PoolPayment(met, fund, tuple(trace))
