"""How far upstream sync has got, for the status bar and the shift close."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from ..store import Database
from ..store.models import Outbox


@dataclass(frozen=True, slots=True)
class SyncStatus:
    pending: int
    parked: int
    last_sent: dt.datetime | None


def sync_status(db: Database) -> SyncStatus:
    with db.sessions() as s:
        counts = dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())
        last = s.scalar(select(func.max(Outbox.sent_at)))
    return SyncStatus(counts.get("pending", 0), counts.get("parked", 0), last)
