"""Local numbers: settlement numbers per institution and the national msgid, never reused."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Institution, NumberSequence


def next_value(session: Session, institution: Institution, name: str, count: int = 1) -> int:
    """The next value of a per-institution counter, under the transaction's write lock; with
    `count`, that many values are taken and the first is returned."""
    seq = session.scalar(
        select(NumberSequence)
        .where(NumberSequence.institution_id == institution.id, NumberSequence.name == name)
        .with_for_update()
    )
    if seq is None:
        seq = NumberSequence(institution_id=institution.id, name=name, last_value=0)
        session.add(seq)
    seq.last_value += count
    session.flush()
    return seq.last_value - count + 1


def settlement_number(institution: Institution, serial: int) -> str:
    """Institution code + 10-digit serial (from `next_value`): unique per institution, never reused."""
    return f"{institution.code}{serial:010d}"


def msgid(institution: Institution, at: dt.datetime, serial: int) -> str:
    """national-interface.md: institution code (12) + yyyyMMddHHmmss (14) + serial (4).

    The serial comes from the institution's "message" counter, so two messages of one institution
    in the same second differ unless 10,000 share that second; the outbox's unique index guards that.
    """
    return f"{institution.code:<12.12}{at:%Y%m%d%H%M%S}{serial % 10000:04d}"
