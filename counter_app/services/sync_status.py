"""How far upstream sync has got, and what a supervisor does about a message the centre refused.

A person's messages go in order, so a parked (refused) message holds back that person's later ones.
That is right, but it must never be silent: the status bar shows the parked count, shift and day
close list parked and overdue messages, and a supervisor resends or voids one, with a reason,
audited. Reading and deciding live here; sending lives in sync/outbox.py.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..store import Database
from ..store.models import Outbox, Person, Settlement
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

    def overdue(self, now: dt.datetime, warn_age: dt.timedelta = DEFAULT_WARN_AGE) -> bool:
        return self.oldest_pending_at is not None and now - self.oldest_pending_at > warn_age


def sync_status(db: Database) -> SyncStatus:
    with db.sessions() as s:
        counts = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        last = s.scalar(select(func.max(Outbox.sent_at)))
        oldest = s.scalar(select(func.min(Outbox.created_at)).where(Outbox.status == "pending"))
    return SyncStatus(counts.get("pending", 0), counts.get("parked", 0), last, oldest)


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


def unsent(db: Database, status: str | None = None) -> list[OutboxEntry]:
    """Messages not yet accepted upstream (pending and parked, or one of them), oldest first:
    what a supervisor sees, and what closing a shift or a day lists."""
    with db.sessions() as session:
        query = (select(Outbox, Settlement.setl_no, Person.psn_no, Person.name)
                 .join(Settlement, Settlement.id == Outbox.settlement_id)
                 .join(Person, Person.id == Settlement.person_id)
                 .where(Outbox.status.in_(("pending", "parked"))).order_by(Outbox.id))
        if status:
            query = query.where(Outbox.status == status)
        return [OutboxEntry(o.msgid, o.infno, setl_no, psn_no, name, o.status, o.attempts, o.last_error, o.created_at)
                for o, setl_no, psn_no, name in session.execute(query)]


def _reason(reason: str) -> str:
    require_reason(reason)
    return reason.strip()


def _parked(session, msgid: str) -> Outbox:  # noqa: ANN001
    msg = session.scalar(select(Outbox).where(Outbox.msgid == msgid))
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
        record(session, actor, "outbox_release", msgid, at=at, before={"status": "parked", "error": msg.last_error},
               after={"status": "pending", "reason": reason})


def void(db: Database, actor: Actor, msgid: str, reason: str, *, now: dt.datetime | None = None) -> None:
    """Give up on a parked message for good (e.g. the centre holds it already, seen by 2601 or by
    phone); the person's later messages then go on. The settlement itself stands."""
    actor.require("outbox")
    reason = _reason(reason)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        msg = _parked(session, msgid)
        msg.status, msg.last_error = "void", f"{msg.last_error or ''}；作废：{reason}"[:2000]
        record(session, actor, "outbox_void", msgid, at=at, before={"status": "parked"},
               after={"status": "void", "reason": reason})
