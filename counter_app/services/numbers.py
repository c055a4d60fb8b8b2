"""Local numbers: settlement numbers per institution and the national msgid, never reused."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Institution, NumberSequence


def next_value(session: Session, institution: Institution, name: str) -> int:
    """The next value of a per-institution counter, under the transaction's write lock."""
    seq = session.scalar(
        select(NumberSequence)
        .where(NumberSequence.institution_id == institution.id, NumberSequence.name == name)
        .with_for_update()
    )
    if seq is None:
        seq = NumberSequence(institution_id=institution.id, name=name, last_value=0)
        session.add(seq)
    seq.last_value += 1
    session.flush()
    return seq.last_value


def settlement_number(session: Session, institution: Institution) -> str:
    """Institution code + 10-digit serial: unique per institution and never issued twice."""
    return f"{institution.code}{next_value(session, institution, 'settlement'):010d}"


def msgid(session: Session, institution: Institution, at: dt.datetime) -> str:
    """national-interface.md: institution code (12) + yyyyMMddHHmmss (14) + serial (4)."""
    serial = next_value(session, institution, "msgid") % 10000
    return f"{institution.code:<12.12}{at:%Y%m%d%H%M%S}{serial:04d}"
