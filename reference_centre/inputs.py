"""What the centre reads from a message's input, and how it refuses one it will never accept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any


class Refusal(Exception):
    """A message the centre will never accept (answered with infcode -1 and the reason)."""


def money_in(value: Any) -> Decimal:
    """An amount from the input (a JSON number read as Decimal, or int); anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Refusal(f"金额应为数值，收到 {value!r}")
    return Decimal(value)


def date_in(text: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        raise Refusal(f"时间格式应为 yyyy-MM-dd HH:mm:ss，收到 {text!r}") from None


def iso_day(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
