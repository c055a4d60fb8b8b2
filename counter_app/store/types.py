"""Column types that keep money exact on every database.

SQLite has no exact decimal (NUMERIC there is a float), so money is stored as integer cents on
SQLite and as NUMERIC(14,2) on PostgreSQL; either way Python sees a Decimal with two places, and
SQL SUM() keeps the type, so aggregates come back exact too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ..engine.money import CENT, cents


class Money(TypeDecorator[Decimal]):
    impl = Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal) or isinstance(value, bool):
            raise TypeError(f"money must be a Decimal, got {type(value).__name__} {value!r}")
        if value != cents(value):
            raise ValueError(f"money has more than two decimals: {value}")
        return int(value * 100) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)

    @property
    def python_type(self) -> type:
        return Decimal


class Ratio(TypeDecorator[Decimal]):
    """A ratio such as a pre-pay share, stored as its exact decimal text."""

    impl = String(12)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"ratio must be a Decimal, got {type(value).__name__}")
        return str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)
