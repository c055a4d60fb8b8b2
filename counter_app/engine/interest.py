"""A year's interest on one personal account (WH-10, WH-11): pure, Decimal, no I/O.

The account is two pots. The *carried* pot starts the year with the balance brought forward
(principal and interest of earlier years) and earns the 3-month time-deposit rate; the *current*
pot holds this year's monthly credits (and refunds of this year's payments) and earns the demand
rate (WH-11). Payments draw on the pots in the order the rates file names (`debit_order`).
Interest is the sum over the days of the year of each pot's end-of-day balance times the daily
rate in force that day (annual rate / `day_count`), rounded once, half up, to the cent.

`rates_from_mapping` validates the rates file (`resources/rates/deposit-rates.toml`).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .money import ZERO, MoneyError, cents, to_decimal

DEBIT_ORDERS = ("current_first", "carried_first")
CURRENT_KINDS = (
    "credit",
    "refund",
    "refund_mulaid",
    "opening_current",
)  # feed the current-year pot; other credits are carried


class RatesError(ValueError):
    """The rates file cannot be used; the message names the key."""


@dataclass(frozen=True, slots=True)
class RatePeriod:
    effective_from: dt.date
    demand: Decimal
    time_3m: Decimal


@dataclass(frozen=True, slots=True)
class InterestRules:
    rule: str
    day_count: int
    debit_order: str
    periods: tuple[RatePeriod, ...]  # sorted by effective_from

    def rate_on(self, day: dt.date) -> RatePeriod:
        chosen = None
        for period in self.periods:
            if period.effective_from <= day:
                chosen = period
        if chosen is None:
            raise RatesError(
                f"no deposit rates in force on {day} (the first period starts "
                f"{self.periods[0].effective_from})"
            )
        return chosen


@dataclass(frozen=True, slots=True)
class Movement:
    """One ledger entry of the year: its day, signed amount and kind."""

    day: dt.date
    amount: Decimal
    kind: str


@dataclass(frozen=True, slots=True)
class YearInterest:
    interest: Decimal  # rounded, what is posted
    carried_interest: Decimal  # unrounded parts, for the note and for audit
    current_interest: Decimal
    carried_days_balance: Decimal  # 积数: sum of end-of-day balances (yuan-days)
    current_days_balance: Decimal

    def note(self, rules: InterestRules) -> str:
        return (
            f"{rules.rule} 结转积数 {cents(self.carried_days_balance)} 利息 {cents(self.carried_interest)}；"
            f"当年积数 {cents(self.current_days_balance)} 利息 {cents(self.current_interest)}"
        )


def rates_from_mapping(data: Mapping[str, Any]) -> InterestRules:
    def fail(key: str, message: str) -> RatesError:
        return RatesError(f"deposit rates: {key}: {message}")

    rule = data.get("rule")
    if not isinstance(rule, str) or not rule:
        raise fail("rule", "expected the rule id as text")
    day_count = data.get("day_count")
    if day_count not in (360, 365):
        raise fail("day_count", f"expected 360 or 365, got {day_count!r}")
    order = data.get("debit_order")
    if order not in DEBIT_ORDERS:
        raise fail("debit_order", f"expected one of {', '.join(DEBIT_ORDERS)}, got {order!r}")
    raw = data.get("period")
    if not isinstance(raw, list) or not raw:
        raise fail("period", "expected at least one [[period]]")
    periods = []
    for i, p in enumerate(raw):
        where = f"period[{i}]"
        if not isinstance(p, Mapping):
            raise fail(where, "expected a table")
        day = p.get("effective_from")
        if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
            raise fail(f"{where}.effective_from", f"expected a date, got {day!r}")
        values = {}
        for key in ("demand", "time_3m"):
            value = p.get(key)
            if not isinstance(value, str):
                raise fail(f"{where}.{key}", f'rates are written as strings ("0.0035"), got {value!r}')
            try:
                number = to_decimal(value)
            except MoneyError as exc:
                raise fail(f"{where}.{key}", str(exc)) from None
            if not Decimal(0) <= number < Decimal("0.2"):
                raise fail(f"{where}.{key}", f"{value} is not an annual rate in [0, 0.2)")
            values[key] = number
        periods.append(RatePeriod(day, values["demand"], values["time_3m"]))
    return InterestRules(rule, day_count, order, tuple(sorted(periods, key=lambda p: p.effective_from)))


def year_end(year: int) -> dt.datetime:
    """The value date of a year's interest: its last moment, so a statement in date order shows
    the interest after every movement of the year it was earned on (WH-11)."""
    return dt.datetime(year, 12, 31, 23, 59, 59)


def year_interest(
    rules: InterestRules,
    year: int,
    brought_forward: Decimal,
    movements: Iterable[Movement],
    *,
    until: dt.date | None = None,
) -> YearInterest:
    """Interest for `year` on an account that began it with `brought_forward` and moved as given;
    with `until` (an account closed that day, WH-10), only for the days before it.

    Movements outside the year (or from `until` on) are an error: the caller picks the entries."""
    start, end = dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    if until is not None:
        if not start <= until < end:
            raise ValueError(f"closing day {until} is outside {year}")
        end = until
    by_day: dict[dt.date, list[Movement]] = {}
    for m in movements:
        if not start <= m.day < end:
            raise ValueError(f"movement on {m.day} is outside {year}")
        by_day.setdefault(m.day, []).append(m)
    breaks = sorted(
        {start, end, *by_day, *(p.effective_from for p in rules.periods if start < p.effective_from < end)}
    )
    carried, current = brought_forward, ZERO
    carried_interest = current_interest = Decimal(0)
    carried_product = current_product = Decimal(0)
    for day, following in itertools.pairwise(breaks):
        for m in by_day.get(day, ()):
            carried, current = _apply(rules.debit_order, carried, current, m)
        days = (following - day).days
        rate = rules.rate_on(day)
        carried_product += carried * days
        current_product += current * days
        carried_interest += carried * days * rate.time_3m / rules.day_count
        current_interest += current * days * rate.demand / rules.day_count
    return YearInterest(
        cents(carried_interest + current_interest),
        carried_interest,
        current_interest,
        carried_product,
        current_product,
    )


def _apply(order: str, carried: Decimal, current: Decimal, m: Movement) -> tuple[Decimal, Decimal]:
    if m.amount >= 0:
        return (carried, current + m.amount) if m.kind in CURRENT_KINDS else (carried + m.amount, current)
    owed = -m.amount
    if order == "current_first":
        take = min(owed, current)
        current, carried = current - take, carried - (owed - take)
    else:
        take = min(owed, carried)
        carried, current = carried - take, current - (owed - take)
    if carried < 0 or current < 0:
        raise ValueError(f"payment of {owed} on {m.day} is more than the account held")
    return carried, current
