"""How far upstream sync has got, and what a supervisor does about a message the centre refused.

A person's messages go in order, so a parked (refused) message holds back that person's later ones.
That is right, but it must never be silent: the status bar shows the parked count, shift and day
close list parked and overdue messages, and a supervisor resends or voids one, with a reason,
audited. Reading and deciding live here; sending lives in sync/outbox.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, func, select
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import CentreResult, Outbox, Person, Settlement
from .actor import Actor
from .audit import record
from .errors import NotFound, require_reason

DEFAULT_WARN_AGE = dt.timedelta(minutes=30)  # an older pending message is shown as overdue


@dataclass(frozen=True, slots=True)
class SyncStatus:
    pending: int
    parked: int
    last_sent: dt.datetime | None
    oldest_pending_at: dt.datetime | None = None
    differences: int = 0  # settlements the centre computed otherwise, not yet reviewed by a supervisor

    def overdue(self, now: dt.datetime, warn_age: dt.timedelta = DEFAULT_WARN_AGE) -> bool:
        return self.oldest_pending_at is not None and now - self.oldest_pending_at > warn_age


def _item() -> Any:
    """What a cashier counts as one item upstream: a settlement (its 2201 … 2207, or one refund),
    or a stay's admission and fee messages; not each message."""
    return func.coalesce(func.cast(Outbox.settlement_id, String), Outbox.visit_key, Outbox.msgid)


def sync_status(db: Database) -> SyncStatus:
    with db.sessions() as s:
        counts = dict(
            s.execute(
                select(Outbox.status, func.count(func.distinct(_item())))
                .where(Outbox.status.in_(("pending", "parked")))
                .group_by(Outbox.status)
            )
            .tuples()
            .all()
        )
        last = s.scalar(select(func.max(Outbox.sent_at)))
        oldest = s.scalar(select(func.min(Outbox.created_at)).where(Outbox.status == "pending"))
        differ = s.scalar(
            select(func.count())
            .select_from(CentreResult)
            .where(CentreResult.equal.is_(False), CentreResult.reviewed_at.is_(None))
        )
    return SyncStatus(counts.get("pending", 0), counts.get("parked", 0), last, oldest, differ or 0)


@dataclass(frozen=True)
class OutboxEntry:
    msgid: str
    infno: str
    setl_no: str
    psn_no: str
    name: str
    status: str
    attempts: int
    last_error: str | None
    created_at: dt.datetime

    def age(self, now: dt.datetime) -> dt.timedelta:
        return now - self.created_at


def unsent(db: Database, status: str | None = None, *, per_message: bool = False) -> list[OutboxEntry]:
    """What is not yet accepted upstream (pending and parked, or one of them), oldest first: what a
    supervisor sees, and what closing a shift or a day lists. One entry per item (a settlement's
    messages together, showing the parked one if any), or with `per_message` every message."""
    with db.sessions() as session:
        query = (
            select(
                Outbox, func.coalesce(Settlement.setl_no, Outbox.visit_key, ""), Person.psn_no, Person.name
            )
            .outerjoin(Settlement, Settlement.id == Outbox.settlement_id)  # an admission's have none
            .join(Person, Person.psn_no == Outbox.person_key)
            .where(Outbox.status.in_(("pending", "parked")))
            .order_by(Outbox.id)
        )
        if status:
            query = query.where(Outbox.status == status)
        entries = [
            (
                o.settlement_id,
                o.visit_key,
                OutboxEntry(
                    o.msgid, o.infno, setl_no, psn_no, name, o.status, o.attempts, o.last_error, o.created_at
                ),
            )
            for o, setl_no, psn_no, name in session.execute(query)
        ]
    if per_message:
        return [e for _, _, e in entries]
    items: dict[object, OutboxEntry] = {}
    for settlement_id, visit_key, entry in entries:
        key = settlement_id if settlement_id is not None else (visit_key or entry.msgid)
        if key not in items or (entry.status == "parked" and items[key].status != "parked"):
            items[key] = entry
    return sorted(items.values(), key=lambda e: (e.created_at, e.msgid))


def _reason(reason: str) -> str:
    require_reason(reason)
    return reason.strip()


def _parked(session: Session, msgid: str) -> Outbox:
    msg: Outbox | None = session.scalar(select(Outbox).where(Outbox.msgid == msgid))
    if msg is None or msg.status != "parked":
        raise NotFound(f"没有挂起的报文 {msgid}")
    return msg


def release(db: Database, actor: Actor, msgid: str, reason: str, *, now: dt.datetime | None = None) -> None:
    """Send a parked message again (after fixing what the centre objected to)."""
    actor.require("outbox")
    reason = _reason(reason)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        msg = _parked(session, msgid)
        msg.status, msg.next_attempt_at = "pending", at
        record(
            session,
            actor,
            "outbox_release",
            msgid,
            at=at,
            before={"status": "parked", "error": msg.last_error},
            after={"status": "pending", "reason": reason},
        )


def void(db: Database, actor: Actor, msgid: str, reason: str, *, now: dt.datetime | None = None) -> None:
    """Give up on a parked message for good (e.g. the centre holds it already, seen by 2601 or by
    phone); the person's later messages then go on. The settlement itself stands."""
    actor.require("outbox")
    reason = _reason(reason)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        msg = _parked(session, msgid)
        msg.status, msg.last_error = "void", f"{msg.last_error or ''}；作废：{reason}"[:2000]
        record(
            session,
            actor,
            "outbox_void",
            msgid,
            at=at,
            before={"status": "parked"},
            after={"status": "void", "reason": reason},
        )


@dataclass(frozen=True)
class CentreDifference:
    """A settlement the centre computed otherwise than the counter: both splits, for a supervisor."""

    setl_no: str
    psn_no: str
    name: str
    settled_at: dt.datetime
    differences: dict[str, list[str]]  # field -> [ours, the centre's]
    centre_setl_id: str
    reviewed_by: str | None
    reviewed_at: dt.datetime | None


def centre_differences(
    db: Database, actor: Actor, *, include_reviewed: bool = False
) -> list[CentreDifference]:
    """What the centre answered differently (compare in sync/), oldest first; nothing is overwritten."""
    actor.require("outbox")
    import json

    with db.sessions() as session:
        query = (
            select(CentreResult, Settlement.setl_no, Settlement.settled_at, Person.psn_no, Person.name)
            .join(Settlement, Settlement.id == CentreResult.settlement_id)
            .join(Person, Person.id == Settlement.person_id)
            .where(CentreResult.equal.is_(False))
            .order_by(CentreResult.id)
        )
        if not include_reviewed:
            query = query.where(CentreResult.reviewed_at.is_(None))
        return [
            CentreDifference(
                setl_no, psn_no, name, at, json.loads(r.differences), r.setl_id, r.reviewed_by, r.reviewed_at
            )
            for r, setl_no, at, psn_no, name in session.execute(query)
        ]


def review_difference(
    db: Database, actor: Actor, setl_no: str, note: str, *, now: dt.datetime | None = None
) -> None:
    """A supervisor has looked at a difference and says what was done (audited); it stays listed
    in reconciliation, marked reviewed."""
    actor.require("outbox")
    note = _reason(note)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        result = session.scalar(
            select(CentreResult)
            .join(Settlement, Settlement.id == CentreResult.settlement_id)
            .where(Settlement.setl_no == setl_no, CentreResult.equal.is_(False))
        )
        if result is None:
            raise NotFound(f"结算 {setl_no} 没有与医保中心不一致的记录")
        if result.reviewed_at is not None:
            raise NotFound(
                f"结算 {setl_no} 的差异已于 {result.reviewed_at:%Y-%m-%d %H:%M} 由 {result.reviewed_by} 处理"
            )
        result.reviewed_by, result.reviewed_at = actor.staff_no, at
        record(
            session,
            actor,
            "centre_difference_reviewed",
            setl_no,
            at=at,
            before={"differences": result.differences},
            after={"note": note},
        )
