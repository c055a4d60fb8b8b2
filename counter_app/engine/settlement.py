"""settle(claim, pack) -> SettlementResult: the pure function everything else calls.

No clock, no database, no files: the same claim and pack always give the same settlement. Before
returning, the contract's identities are checked to the cent; a violation is a bug in the engine
and raises rather than letting a wrong split reach a cashier.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from . import accounts, pooling
from .accounts import FamilyDraw
from .claim import Claim, Ytd
from .money import ZERO, cents, fmt
from .policy import PolicyPack

# The money fields of the settlement JSON (besides mulaid[].paid/balc and ytd), in contract order.
MONEY_FIELDS = (
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "balc",
)


class SettlementInvariantError(AssertionError):
    """The engine produced a split that breaks the contract's identities (a bug, never input)."""


class SettlementResult(msgspec.Struct, frozen=True):
    policy: str
    policy_version: str
    medfee_sumamt: Decimal
    fulamt_ownpay_amt: Decimal
    overlmt_selfpay: Decimal
    preselfpay_amt: Decimal
    inscp_scp_amt: Decimal
    act_pay_dedc: Decimal
    hifp_pay: Decimal
    pool_prop_selfpay: Decimal
    fund_pay_sumamt: Decimal
    psn_part_amt: Decimal
    acct_pay: Decimal
    acct_mulaid_pay: Decimal
    psn_cash_pay: Decimal
    balc: Decimal
    mulaid: tuple[FamilyDraw, ...]
    ytd: Ytd
    pooling_applies: bool
    pooling_reason: str
    trace: tuple[tuple[str, str], ...]

    @property
    def own_acct_pay(self) -> Decimal:
        """The patient's own account's part of `acct_pay`."""
        return self.acct_pay - self.acct_mulaid_pay

    def to_json(self) -> dict[str, Any]:
        """The contract's settlement JSON: money as strings with two decimals."""
        return {
            "policy": self.policy,
            "policy_version": self.policy_version,
            "medfee_sumamt": fmt(self.medfee_sumamt),
            "fulamt_ownpay_amt": fmt(self.fulamt_ownpay_amt),
            "overlmt_selfpay": fmt(self.overlmt_selfpay),
            "preselfpay_amt": fmt(self.preselfpay_amt),
            "inscp_scp_amt": fmt(self.inscp_scp_amt),
            "act_pay_dedc": fmt(self.act_pay_dedc),
            "hifp_pay": fmt(self.hifp_pay),
            "pool_prop_selfpay": fmt(self.pool_prop_selfpay),
            "fund_pay_sumamt": fmt(self.fund_pay_sumamt),
            "psn_part_amt": fmt(self.psn_part_amt),
            "acct_pay": fmt(self.acct_pay),
            "acct_mulaid_pay": fmt(self.acct_mulaid_pay),
            "psn_cash_pay": fmt(self.psn_cash_pay),
            "balc": fmt(self.balc),
            "mulaid": [
                {"psn_no": d.psn_no, "relation": d.relation, "paid": fmt(d.paid), "balc": fmt(d.balc)}
                for d in self.mulaid
            ],
            "ytd": {
                "year": self.ytd.year,
                "deductible_paid": fmt(self.ytd.deductible_paid),
                "outpatient_pool_paid": fmt(self.ytd.outpatient_pool_paid),
            },
            "pooling": {"applies": self.pooling_applies, "reason": self.pooling_reason},
            "trace": [{"rule": rule, "note": note} for rule, note in self.trace],
        }


class CentreFund(msgspec.Struct, frozen=True):
    """Pooling decided by the insurance centre (inpatient: its benefits are the centre's to compute).
    Given it, the engine does not decide pooling; it splits only the personal part between the own
    account, family accounts (HF-4 covers inpatient costs) and cash, by the same rules as outpatient."""

    fund: Decimal
    deductible: Decimal
    ratio: Decimal = ZERO
    note: str = ""


CENTRE_REASON = "centre: inpatient pooling computed by the insurance centre"


class PackNotInForce(ValueError):
    """The claim's visit date is before the chosen pack takes effect."""


def settle(claim: Claim, pack: PolicyPack, centre: CentreFund | None = None) -> SettlementResult:
    if claim.policy != pack.id:
        raise ValueError(f"claim asks for policy {claim.policy!r}, given pack {pack.id!r}")
    if claim.visit_date < pack.effective_from:
        raise PackNotInForce(
            f"visit_date: {claim.visit_date.isoformat()} is before policy {pack.id} takes effect "
            f"on {pack.effective_from.isoformat()} ({pack.effective_rule})"
        )
    year = claim.visit_date.year
    ytd = claim.person.ytd if claim.person.ytd.year == year else Ytd(year)  # decision 6
    trace: list[tuple[str, str]] = []

    total = class_c = overlimit = ZERO
    prepay: list[Decimal] = []
    for item in claim.items:
        total += item.amount
        if item.overlimit:
            overlimit += item.overlimit
            trace.append(("WH-3", f"over the price cap, self-pay: {item.code} {fmt(item.overlimit)}"))
        if item.cls == "C":
            class_c += item.amount
            prepay.append(ZERO)
        elif item.cls == "B" and item.prepay_ratio:
            base = item.amount - item.overlimit  # the capped part is what pre-pay applies to
            pre = cents(base * item.prepay_ratio)  # decision 2: rounded per item
            prepay.append(pre)
            trace.append(
                (
                    "WH-3",
                    f"pre-pay of class B {item.code}: {fmt(base)} x {item.prepay_ratio} = {fmt(pre)}",
                )
            )
        else:
            prepay.append(ZERO)
    if class_c:
        trace.append(("WH-3", f"class C full self-pay {fmt(class_c)}"))
    prepay_total = sum(prepay, ZERO)
    scope = total - class_c - overlimit - prepay_total

    if centre is None:
        decision = pooling.decide(claim, pack)
        pool = pooling.pay(decision, scope, ytd)
        applies, reason, ratio = (
            decision.applies,
            decision.reason,
            decision.ratio if decision.applies else ZERO,
        )
        outpatient_fund = pool.fund
    else:
        if not ZERO <= centre.fund <= scope or not ZERO <= centre.deductible <= scope - centre.fund:
            raise ValueError(
                f"centre fund {fmt(centre.fund)} / deductible {fmt(centre.deductible)} do not fit "
                f"the policy-scope amount {fmt(scope)}"
            )
        note = centre.note or f"fund {fmt(centre.fund)}, deductible {fmt(centre.deductible)}"
        pool = pooling.PoolPayment(centre.deductible, centre.fund, (("centre", note),))
        applies, reason, ratio, outpatient_fund = bool(centre.fund), CENTRE_REASON, centre.ratio, ZERO
    trace.extend(pool.trace)
    fund = pool.fund
    psn_part = total - fund

    due = accounts.burden(claim, pack, prepay, scope, fund)
    acct = accounts.pay(claim, pack, due)
    trace.extend(acct.trace)
    mulaid = sum((d.paid for d in acct.family), ZERO)
    acct_pay = acct.own + mulaid
    cash = psn_part - acct_pay
    if cash:
        trace.append(("WH-26", f"cash {fmt(cash)}"))

    settlement = SettlementResult(
        policy=pack.id,
        policy_version=pack.version,
        medfee_sumamt=total,
        fulamt_ownpay_amt=class_c,
        overlmt_selfpay=overlimit,
        preselfpay_amt=prepay_total,
        inscp_scp_amt=scope,
        act_pay_dedc=pool.deductible_met,
        hifp_pay=fund,
        pool_prop_selfpay=ratio,
        fund_pay_sumamt=fund,
        psn_part_amt=psn_part,
        acct_pay=acct_pay,
        acct_mulaid_pay=mulaid,
        psn_cash_pay=cash,
        balc=acct.own_balc,
        mulaid=acct.family,
        # the outpatient year totals (WH-15, WH-16) move only with outpatient pooling
        ytd=Ytd(
            year,
            ytd.deductible_paid + (pool.deductible_met if centre is None else ZERO),
            ytd.outpatient_pool_paid + outpatient_fund,
        ),
        pooling_applies=applies,
        pooling_reason=reason,
        trace=tuple(trace),
    )
    check_identities(settlement)
    return settlement


def check_identities(s: SettlementResult) -> None:
    """The contract's identities, to the cent; raises SettlementInvariantError naming the first broken.
    They are checked in one expression first (the usual case: all hold), and named only if one breaks."""
    mulaid = ZERO
    lowest = min(
        s.medfee_sumamt,
        s.fulamt_ownpay_amt,
        s.preselfpay_amt,
        s.inscp_scp_amt,
        s.act_pay_dedc,
        s.hifp_pay,
        s.psn_part_amt,
        s.acct_pay,
        s.acct_mulaid_pay,
        s.psn_cash_pay,
        s.balc,
    )
    for d in s.mulaid:
        mulaid += d.paid
        lowest = min(lowest, d.paid, d.balc)
    if (
        s.medfee_sumamt
        == s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt
        == s.fund_pay_sumamt + s.acct_pay + s.psn_cash_pay
        and s.psn_part_amt == s.acct_pay + s.psn_cash_pay
        and s.acct_mulaid_pay == mulaid <= s.acct_pay
        and lowest >= 0
        and s.medfee_sumamt == cents(s.medfee_sumamt)
        and s.hifp_pay == cents(s.hifp_pay)
        and s.acct_pay == cents(s.acct_pay)
        and s.psn_cash_pay == cents(s.psn_cash_pay)
    ):
        return
    _name_broken_identity(s)


def _name_broken_identity(s: SettlementResult) -> None:
    checks = (
        (
            "medfee = C + overlimit + prepay + scope",
            s.medfee_sumamt == s.fulamt_ownpay_amt + s.overlmt_selfpay + s.preselfpay_amt + s.inscp_scp_amt,
        ),
        ("medfee = fund + acct + cash", s.medfee_sumamt == s.fund_pay_sumamt + s.acct_pay + s.psn_cash_pay),
        ("psn_part = acct + cash", s.psn_part_amt == s.acct_pay + s.psn_cash_pay),
        ("mulaid = sum of draws", s.acct_mulaid_pay == sum((d.paid for d in s.mulaid), ZERO)),
        ("mulaid <= acct", s.acct_mulaid_pay <= s.acct_pay),
        (
            "nothing negative",
            min(
                s.medfee_sumamt,
                s.fulamt_ownpay_amt,
                s.preselfpay_amt,
                s.inscp_scp_amt,
                s.act_pay_dedc,
                s.hifp_pay,
                s.psn_part_amt,
                s.acct_pay,
                s.acct_mulaid_pay,
                s.psn_cash_pay,
                s.balc,
                *(d.paid for d in s.mulaid),
                *(d.balc for d in s.mulaid),
            )
            >= 0,
        ),
        (
            "all in cents",
            all(v == cents(v) for v in (s.medfee_sumamt, s.hifp_pay, s.acct_pay, s.psn_cash_pay)),
        ),
    )
    for name, ok in checks:
        if not ok:
            raise SettlementInvariantError(f"settlement breaks the identity {name}: {s.to_json()}")
    raise SettlementInvariantError(f"settlement breaks an identity: {s.to_json()}")
