"""Monthly crediting of one personal account (WH-5, WH-6, WH-7, WH-21): pure, Decimal, no I/O.

`monthly_credit` answers for one person and one month either a `Credit` (amount, who funds it,
the rule) or a `NoCredit` naming the rule that stops it. The batch that posts credits
(`counter_app.batch.crediting`) only reads the store and writes what this returns.

Decisions where the seed is silent (rules.md asks for them to be stated):
- A month is credited whole or not at all; there is no pro-rating by day.
- The month of retirement is still an in-service month; retiree crediting starts the month
  after (WH-21). A retiree with no retirement date on file is treated as retired throughout.
- The month of death is still credited; crediting stops from the month after (WH-7 (3)).
- `arrears` stops an in-service person's crediting (WH-7 (1)); a retiree pays no contributions,
  so it does not stop theirs. `suspended` and any other status stops all crediting (WH-7 (4)).
- An in-service month needs the person's contribution base; without one nothing is credited
  and the reason says so, rather than guessing a base.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from .money import cents
from .policy import PackError, PolicyPack

CONTRIBUTION = "contribution"  # WH-6 (1): the person's own contribution
POOLING_FUND = "pooling_fund"  # WH-6 (2): the pooling fund pays retirees' credits


@dataclass(frozen=True, slots=True)
class Member:
    """What crediting needs to know of one account holder."""

    insutype: str
    psn_type: str  # in_service, retired, flexible_combined, flexible_pooling_only
    status: str  # normal, arrears, suspended
    contribution_base: Decimal | None
    retired_on: dt.date | None
    died_on: dt.date | None
    account_opened_on: dt.date
    account_closed_on: dt.date | None


@dataclass(frozen=True, slots=True)
class Credit:
    amount: Decimal
    source: str  # CONTRIBUTION or POOLING_FUND
    rule: str
    note: str


@dataclass(frozen=True, slots=True)
class NoCredit:
    rule: str
    reason: str


def month_start(month: dt.date) -> dt.date:
    return month.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    """The first day of the month before the one `month` falls in."""
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def period_label(month: dt.date) -> str:
    """The ledger's crediting period, "2026-05": one credit per account and period."""
    return f"{month.year:04d}-{month.month:02d}"


def parse_period(text: str) -> dt.date:
    """ "2026-05" -> 2026-05-01; anything else is a ValueError naming the text."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {text!r}") from None


def _ym(day: dt.date) -> tuple[int, int]:
    return day.year, day.month


def monthly_credit(pack: PolicyPack, member: Member, month: dt.date) -> Credit | NoCredit:
    """The credit for `month` (any day in it), or why there is none."""
    month = month_start(month)
    period = pack.crediting_for(month)
    if period is None:
        raise PackError(
            f"policy pack {pack.id}: no account crediting rules for {period_label(month)} "
            f"(the first period starts {pack.crediting[0].effective_from if pack.crediting else 'nowhere'})"
        )
    if member.insutype != "310":
        return NoCredit("WH-5", "not an employee: no personal account")
    if member.psn_type == "flexible_pooling_only":
        return NoCredit("WH-7 (2)", "flexible worker in the pooling-only mode: nothing is credited")
    if member.account_opened_on >= next_month(month):
        return NoCredit("WH-5", "the account was opened after this month")
    if member.account_closed_on is not None and member.account_closed_on <= month:
        return NoCredit(
            "WH-10", "the account was closed (transferred or withdrawn) by the first of this month"
        )
    if member.died_on is not None and _ym(month) > _ym(member.died_on):
        return NoCredit("WH-7 (3)", "died: crediting stops from the month after death")
    if member.status not in ("normal", "arrears"):
        return NoCredit("WH-7 (4)", f"status {member.status}: crediting stopped")
    retired = member.psn_type == "retired" and (
        member.retired_on is None or _ym(month) > _ym(member.retired_on)
    )
    if retired:
        amount = period.retiree_monthly.value
        return Credit(
            amount, POOLING_FUND, f"{period.retiree_monthly.rule}, WH-21", f"退休人员定额划入 {amount}"
        )
    if member.status == "arrears":  # WH-7 (1) is about those who contribute: not retirees
        return NoCredit("WH-7 (1)", "contributions not paid as required (arrears)")
    if member.contribution_base is None or member.contribution_base <= 0:
        return NoCredit(period.employee_rate.rule, "no contribution base on file")
    amount = cents(member.contribution_base * period.employee_rate.value)
    return Credit(
        amount,
        CONTRIBUTION,
        period.employee_rate.rule,
        f"缴费基数 {member.contribution_base} × {period.employee_rate.value} = {amount}",
    )
