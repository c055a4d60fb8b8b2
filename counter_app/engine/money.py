"""The one place that makes money Decimals (rules.md decision 1).

Money is yuan as `Decimal`, quantised to 0.01 with ROUND_HALF_UP wherever an amount is paid or
shown. Nothing else in the application parses money text or rounds; everything calls in here.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
_quantize = Decimal.quantize
ZERO = Decimal("0.00")
ONE = Decimal("1")

# Non-negative, at most 12 digits before the point and 2 after: "12", "12.5", "12.50".
# ASCII digits only: `\d` would also take full-width "１２３" and Arabic-Indic digits.
_MONEY_TEXT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,2})?")
_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")
_SHOWN = 40  # characters of a bad value echoed back in a message


class MoneyError(ValueError):
    """A value that is not acceptable money; the message says what is wrong with it."""


def cents(value: Decimal) -> Decimal:
    """Round to 0.01, half up (decision 1)."""
    return _quantize(value, CENT, ROUND_HALF_UP)  # positional: half the cost of the keyword call


def parse_money(value: object) -> Decimal:
    """Money from its JSON form, a string with at most two decimals; anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, str):
        if isinstance(value, (int, float, Decimal)):
            raise MoneyError(f'money must be a JSON string like "12.50", got the number {value}')
        raise MoneyError(f'money must be a JSON string like "12.50", got {type(value).__name__}')
    if _MONEY_TEXT.fullmatch(value):
        return cents(Decimal(value))
    if _DECIMAL_TEXT.fullmatch(value):
        if value.startswith("-"):
            raise MoneyError(f'negative amount: "{value}"')
        if "." in value and len(value.split(".", 1)[1]) > 2:
            raise MoneyError(f'more than two decimals: "{value}"')
        raise MoneyError(f'more than 12 digits before the point: "{value}"')
    raise MoneyError(f'not a decimal: "{shown(value)}"')  # ASCII digits only, at most two decimals


def shown(value: str) -> str:
    """A bad value as a message shows it: cut short, control characters escaped."""
    text = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
    return text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text


def parse_ratio(value: object) -> Decimal:
    """A ratio in [0, 1], from a decimal string or a JSON number parsed as Decimal."""
    if isinstance(value, bool):
        raise MoneyError(f"not a ratio: {value}")
    if isinstance(value, (int, Decimal)) or (isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value)):
        ratio = Decimal(value)
    elif isinstance(value, float):  # only reachable if a caller parsed JSON with floats
        raise MoneyError(f'ratio must be a decimal string like "0.20", got the float {value}')
    else:
        raise MoneyError(f"not a decimal: {shown(repr(value))}")
    if not ratio.is_finite() or not ZERO <= ratio <= ONE:
        raise MoneyError(f"ratio outside [0, 1]: {value}")
    return ratio


def to_decimal(text: str) -> Decimal:
    """A Decimal from trusted text (policy packs, the store); raises MoneyError on junk."""
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise MoneyError(f"not a decimal: {text!r}") from exc


def fmt(value: Decimal) -> str:
    """Money as the JSON string the contract shows: always two decimals."""
    text = str(value)
    if text[-3:-2] == ".":  # already two decimals, no exponent: rounding would change nothing
        return text
    return str(_quantize(value, CENT, ROUND_HALF_UP))
