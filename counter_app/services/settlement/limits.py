"""What the counter shows of its institution: the year's deductible and cap, its name and level."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ...policies import load_pack
from ...store import Database
from ..institutions import by_code as _institution


def pool_limits(db: Database, institution_code: str, visit_date: dt.date) -> tuple[Decimal, Decimal] | None:
    """The deductible and annual cap in force at this institution on this date, if it has pooling."""
    with db.sessions() as session:
        policy = _institution(session, institution_code).policy
    period = load_pack(policy).pool_for(visit_date)
    return (period.deductible.value, period.annual_cap.value) if period else None


def institution_label(db: Database, institution_code: str) -> tuple[str, int, str]:
    """(name, level, policy pack id) of the counter's institution, for the window's header."""
    with db.sessions() as session:
        inst = _institution(session, institution_code)
        return inst.name, inst.level, inst.policy
