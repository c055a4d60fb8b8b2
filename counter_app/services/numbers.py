"""Local numbers: settlement numbers per institution and the national msgid, never reused."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from ..store.models import Institution


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
    names = sorted(counts)
    params: dict[str, Any] = {"institution_id": institution.id}
    for k, name in enumerate(names):
        params[f"name{k}"], params[f"count{k}"] = name, counts[name]
    return {
        name: last - counts[name] + 1 for name, last in session.execute(_take_statement(len(names)), params)
    }


@functools.cache
def _take_statement(rows: int) -> TextClause:
    """The upsert for `rows` counters, in the SQL that SQLite (3.35+) and PostgreSQL both speak.
    Written out because SQLAlchemy cannot cache its ON CONFLICT construct and would compile it
    again on every settle."""
    values = ", ".join(f"(:institution_id, :name{k}, :count{k})" for k in range(rows))
    return text(
        f"INSERT INTO number_sequence (institution_id, name, last_value) VALUES {values} "
        "ON CONFLICT (institution_id, name) DO UPDATE "
        "SET last_value = number_sequence.last_value + excluded.last_value "
        "RETURNING name, last_value"
    )


def msgids(
    session: Session, institution: Institution, at: dt.datetime, count: int = 1, first: int | None = None
) -> list[str]:
    """`count` fresh msgids from the institution's "message" counter, in one statement; with
    `first`, from values the caller already took (`take`, beside other counters)."""
    if first is None:
        first = next_value(session, institution, "message", count)
    return [msgid(institution.code, at, first + n) for n in range(count)]


def settlement_number(institution: Institution, serial: int) -> str:
    """Institution code + 10-digit serial (from `next_value`): unique per institution, never reused."""
    return f"{institution.code}{serial:010d}"


def msgid(institution_code: str, at: dt.datetime, serial: int) -> str:
    """national-interface.md: institution code (12) + yyyyMMddHHmmss (14) + serial (4).

    The serial comes from the institution's "message" counter, so two messages of one institution
    in the same second differ unless 10,000 share that second; the outbox's unique index guards that.
    """
    return f"{institution_code:<12.12}{at:%Y%m%d%H%M%S}{serial % 10000:04d}"
