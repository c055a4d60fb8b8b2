"""Who is working where: every settlement and refund records it."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CounterContext:
    institution_code: str
    counter: str  # counter (workstation) id, e.g. "门诊1"
    cashier: str  # staff id of the signed-in user
