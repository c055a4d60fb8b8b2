"""What the services write to the audit chain (store/audit.py): one entry per action, in the
action's own transaction, naming the actor, the counter and the amounts before and after."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from ..store import audit as chain
from .actor import Actor


def record(
    session: Session,
    who: Actor | tuple[str, str],
    action: str,
    obj: str,
    *,
    at: dt.datetime,
    before: Any = None,
    after: Any = None,
    covers: dict[str, Iterable[Any]] | None = None,
    written: dict[str, list[dict[str, Any]]] | None = None,
    head: tuple[int | None, str | None] | None = None,
    seal: dict[str, Iterable[int]] | None = None,
    seal_tables: Iterable[str] = (),
) -> chain.Appended:
    """Append the entry; `who` is the actor, or (staff number as typed, counter) for a failed sign-in.
    `covers` lists, per table, the rows the action wrote: ORM objects (flushed here first, so they
    have their ids) or ids; `written` and `head` as in `store.audit.append`. Rows of sealed
    tables written in the transaction (bindings, staff, outbox) are sealed by this entry; a
    catalogue it changed is named in `seal_tables`."""
    staff_no, counter = (who.staff_no, who.counter) if isinstance(who, Actor) else who
    session.flush()
    ids = {table: [getattr(row, "id", row) for row in rows] for table, rows in (covers or {}).items()}
    return chain.append(
        session,
        at=at,
        staff_no=staff_no,
        counter=counter,
        action=action,
        obj=obj,
        before=before,
        after=after,
        covers=ids,
        written=written,
        head=head,
        seal=seal,
        seal_tables=seal_tables,
    )


def check_books(session: Session, *, anchor: chain.Anchor | None = None) -> list[chain.Problem]:
    """Everything `audit verify` says: the chain with its rows and seals (store/audit.py), a head
    kept outside the database (`anchor`), and every account balance against its ledger."""
    from .ledger import mismatched_accounts

    problems = chain.verify(session, anchor=anchor)
    problems += [
        chain.Problem(None, f"account {i}: its balance {cached} is not its ledger's {total} (edited outside)")
        for i, cached, total in mismatched_accounts(session)
    ]
    return problems
