"""Local numbers: settlement numbers per institution and the national msgid, never reused."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ..store.models import Institution, NumberSequence


def next_value(session: Session, institution: Institution, name: str, count: int = 1) -> int:
    """The next value of a per-institution counter, under the transaction's write lock; with
    `count`, that many values are taken and the first is returned."""
    return take(session, institution, {name: count})[name]


def take(session: Session, institution: Institution, counts: dict[str, int]) -> dict[str, int]:
    """Draw from several of the institution's counters in one statement: per name, the first of the
    `count` values taken.

    One upsert (`INSERT … ON CONFLICT DO UPDATE … RETURNING`): a row is created by whichever
    counter comes first and taken in turn by the others, so two counters settling the first time at
    once never collide on creating it (they did: a unique violation reached the cashier). Rows are
    taken in name order, so two transactions drawing the same pair never wait on each other in a ring."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    table = NumberSequence.__table__
    statement = upsert(table).values([dict(institution_id=institution.id, name=name, last_value=counts[name])
                                      for name in sorted(counts)])
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.institution_id, table.c.name],
        set_={"last_value": table.c.last_value + statement.excluded.last_value},
    ).returning(table.c.name, table.c.last_value)
    return {name: last - counts[name] + 1 for name, last in session.execute(statement)}


def msgids(session: Session, institution: Institution, at: dt.datetime, count: int = 1,
           first: int | None = None) -> list[str]:
    """`count` fresh msgids from the institution's "message" counter, in one statement; with
    `first`, from values the caller already took (`take`, beside other counters)."""
    if first is None:
        first = next_value(session, institution, "message", count)
    return [msgid(institution, at, first + n) for n in range(count)]


def settlement_number(institution: Institution, serial: int) -> str:
    """Institution code + 10-digit serial (from `next_value`): unique per institution, never reused."""
    return f"{institution.code}{serial:010d}"


def msgid(institution: Institution, at: dt.datetime, serial: int) -> str:
    """national-interface.md: institution code (12) + yyyyMMddHHmmss (14) + serial (4).

    The serial comes from the institution's "message" counter, so two messages of one institution
    in the same second differ unless 10,000 share that second; the outbox's unique index guards that.
    """
    return f"{institution.code:<12.12}{at:%Y%m%d%H%M%S}{serial % 10000:04d}"
