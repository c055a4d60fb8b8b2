"""Who pays the personal part: the own account, then family accounts, then cash (decision 3).

The personal part (`psn_part_amt`) is split into what no account may pay (WH-9 items), what only
the own account may pay (outside the pack's family scope), and what family accounts may also pay
(HF-4 or WH-8 (2)). The own account pays the own-only part first so the cash left is the least
possible; then providers are drawn in binding order, each as far as its balance goes (HF-5).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .claim import Claim
from .money import ZERO, cents, fmt
from .policy import PolicyPack


class Burden(msgspec.Struct, frozen=True):
    """The personal part of a claim, by who may pay it."""

    total: Decimal  # psn_part_amt
    account_payable: Decimal  # what the own account may pay
    family_payable: Decimal  # the part of that which family accounts may pay


class FamilyDraw(msgspec.Struct, frozen=True):
    psn_no: str
    relation: str
    paid: Decimal
    balc: Decimal


class AccountPayment(msgspec.Struct, frozen=True):
    own: Decimal
    own_balc: Decimal
    family: tuple[FamilyDraw, ...]
    trace: tuple[tuple[str, str], ...]


def burden(
    claim: Claim, pack: PolicyPack, prepay: list[Decimal], scope_total: Decimal, fund: Decimal
) -> Burden:
    """Split the personal part by payer eligibility.

    The personal share of the policy-scope amount (deductible plus co-payment, `scope_total -
    fund`) is attributed to items in proportion to their scope amounts; only the share of items
    no account may pay is rounded, so the parts still add up exactly.
    """
    scope_personal = scope_total - fund
    class_c = blocked_c = blocked_prepay = blocked_scope = ZERO
    for item, pre in zip(claim.items, prepay, strict=False):
        # Class C and the part over a price cap are both wholly the patient's (decision 4 keeps
        # both out of Hefei's family scope); they are summed together as `class_c` here.
        own_only = item.amount if item.cls == "C" else item.overlimit
        class_c += own_only
        if not item.account_payable:
            blocked_c += own_only
            if item.cls != "C":
                blocked_prepay += pre
                blocked_scope += item.amount - item.overlimit - pre
    blocked_share = cents(scope_personal * blocked_scope / scope_total) if blocked_scope else ZERO
    total = class_c + sum(prepay, ZERO) + scope_personal
    payable = total - blocked_c - blocked_prepay - blocked_share
    if pack.family.scope == "policy_selfpay":  # HF-4: never class C or over-limit amounts
        family = payable - (class_c - blocked_c)
    else:  # WH-8 (2): the whole personal burden
        family = payable
    return Burden(total, payable, family)


def own_account_usable(claim: Claim) -> tuple[Decimal, str | None]:
    """The own balance that may pay, or 0 with the reason it may not."""
    person = claim.person
    if person.psn_type == "flexible_pooling_only" and person.account_balance <= 0:
        return ZERO, "WH-5: pooling-only flexible worker has no personal account"
    # A worker who moved to pooling-only keeps what the account holds and may spend it: WH-7 (2)
    # stops the credits, WH-10 keeps the money the person's (decision 11).
    if person.insutype != "310":
        return ZERO, f"WH-5: no employee personal account (insutype {person.insutype})"
    if not claim.use_own_account:
        return ZERO, "decision 5: the patient chose not to use the own account"
    return person.account_balance, None


def _family_refusal(claim: Claim, pack: PolicyPack) -> str | None:
    """Why no family account may be drawn for this claim, or None if they may."""
    rules, person = pack.family, claim.person
    if not claim.use_family_account:
        return "decision 5: the patient chose not to use family accounts"
    if not claim.use_own_account and person.insutype == "310" and person.account_balance > 0:
        return "HF-5: own account switched off while it has money, so no family account is drawn"
    if person.insutype not in rules.beneficiary_insutypes:
        return f"{rules.beneficiary_rule}: insutype {person.insutype} may not receive family mutual aid"
    if person.status != "normal":
        return f"{rules.beneficiary_rule}: beneficiary's benefit status is {person.status}, not normal"
    if claim.med_type not in rules.med_types:
        return f"{rules.scope_rule}: med_type {claim.med_type} is outside family mutual aid"
    return None


RESIDENT = "390"


def _self_refusal(claim: Claim) -> str | None:
    """Why the patient's own suspended employee account may not pay this claim (decision 8), or
    None: HF-2.1 covers one's own costs as a normally enrolled resident (390), with one's own
    money switched on; not a maternity or employee patient, not after re-employment."""
    person = claim.person
    if person.insutype != RESIDENT:
        return f"the patient is insured as {person.insutype}, not as a resident (390) (decision 8)"
    if person.status != "normal":
        return f"the patient's resident enrolment is {person.status}, not normal (decision 8)"
    if not claim.use_own_account:
        return "the patient switched their own money off (decision 5, decision 8)"
    return None


def accounts_may_pay(claim: Claim) -> bool:
    """Accounts pay only at designated institutions; emergency is not restricted (WH-29)."""
    return claim.institution.designated or claim.med_type == "13"


def pay(claim: Claim, pack: PolicyPack, due: Burden) -> AccountPayment:
    trace: list[tuple[str, str]] = []
    balance = claim.person.account_balance
    if not accounts_may_pay(claim):
        trace.append(("WH-26", "not a designated institution: no account may pay"))
        return AccountPayment(ZERO, balance, (), tuple(trace))
    if due.account_payable < due.total:
        trace.append(("WH-9", f"{fmt(due.total - due.account_payable)} is on items no account may pay"))
    usable, why_not = own_account_usable(claim)
    own = min(usable, due.account_payable)
    if why_not and due.account_payable:
        trace.append((why_not.split(":")[0], why_not))
    if own:
        trace.append(
            ("WH-26", f"own account pays {fmt(own)}, balance {fmt(balance)} -> {fmt(balance - own)}")
        )
    own_only = due.account_payable - due.family_payable
    need = min(due.family_payable, due.account_payable - own)
    draws: list[FamilyDraw] = []
    if need > 0 and claim.family:
        refusal = _family_refusal(claim, pack)
        if refusal:
            trace.append((refusal.split(":")[0], refusal))
            need = ZERO
        if own_only and need:
            trace.append(
                (pack.family.scope_rule, f"{fmt(own_only)} is outside family scope ({pack.family.scope})")
            )
    for provider in claim.family if need > 0 else ():
        rules = pack.family
        if (
            provider.relation == "self"
        ):  # HF-2.1: one's own employee account while that enrolment is suspended
            if rules.self_rule is None:
                trace.append(
                    (
                        rules.provider_rule,
                        f"{provider.psn_no} (self): this policy has no self binding, skipped",
                    )
                )
                continue
            if provider.status != "suspended" or provider.insutype not in rules.provider_insutypes:
                trace.append(
                    (
                        rules.self_rule,
                        f"{provider.psn_no} (self): the own employee enrolment is "
                        f"{provider.status}, not suspended, skipped",
                    )
                )
                continue
            narrow = _self_refusal(claim)  # decision 8: the self case is only what HF-2.1 says
            if narrow:
                trace.append((rules.self_rule, f"{provider.psn_no} (self): {narrow}, skipped"))
                continue
        elif provider.insutype not in rules.provider_insutypes:
            trace.append(
                (
                    rules.provider_rule,
                    f"{provider.psn_no} ({provider.relation}) is not an employee "
                    f"account holder (insutype {provider.insutype}), skipped",
                )
            )
            continue
        if provider.died_on is not None and provider.died_on <= claim.visit_date:
            trace.append(
                (
                    rules.ended_rule,
                    f"{provider.psn_no} ({provider.relation}) died on "
                    f"{provider.died_on.isoformat()}: the account pays nobody, skipped",
                )
            )
            continue
        if (
            provider.status != "normal" and provider.relation != "self"
        ):  # suspended (停保), arrears: not today
            trace.append(
                (
                    rules.provider_rule,
                    f"{provider.psn_no} ({provider.relation}) enrolment status "
                    f"{provider.status}, not drawable, skipped",
                )
            )
            continue
        drawable = provider.account_balance
        if rules.draws_from == "carried" and provider.relation != "self" and provider.carried is not None:
            drawable = min(drawable, provider.carried)  # decision 9: relatives draw the 历年 pot only
            if drawable < provider.account_balance:
                trace.append(
                    (
                        rules.draws_from_rule or "HF-3",
                        f"{provider.psn_no} ({provider.relation}): relatives draw only the carried-over "
                        f"balance {fmt(drawable)} of {fmt(provider.account_balance)} (decision 9)",
                    )
                )
        paid = min(drawable, need)
        if not paid:
            continue
        left = provider.account_balance - paid
        draws.append(FamilyDraw(provider.psn_no, provider.relation, paid, left))
        rule = (rules.self_rule or "HF-5") if provider.relation == "self" else "HF-5"
        trace.append(
            (
                rule,
                f"{provider.relation} {provider.psn_no} pays {fmt(paid)}, "
                f"balance {fmt(provider.account_balance)} -> {fmt(left)}",
            )
        )
        need -= paid
        if not need:
            break
    return AccountPayment(own, balance - own, tuple(draws), tuple(trace))
