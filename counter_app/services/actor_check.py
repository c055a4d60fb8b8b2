"""Whether a signed-in actor is still true (issue 26): the staff row is there, active, unlocked,
of the same role and the same password as at sign-in. Checked by every service: through
`Actor.require` (a fresh read), or inside the service's own statement where it reads the counter's
state (services/shift.py: `staff_fingerprint`), so a settle costs no extra statement."""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import Staff
from .actor import Actor, StaleActor


def credential(password_hash: str) -> str:
    """What an actor keeps of its password: a digest of the stored hash, never the hash."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def refusal(staff: Staff | None, actor: Actor, at: dt.datetime) -> str | None:
    """Why `actor` is no longer true of `staff` (None: still true)."""
    if staff is None:
        return f"工号 {actor.staff_no} 已被删除，请重新登录"
    if not staff.active:
        return f"工号 {actor.staff_no} 已停用，请重新登录"
    if staff.locked_until is not None and staff.locked_until > at:
        return f"工号 {actor.staff_no} 已锁定，请重新登录"
    if staff.role != actor.role:
        return f"工号 {actor.staff_no} 的角色已变更，请重新登录"
    if actor.credential and credential(staff.password_hash) != actor.credential:
        return f"工号 {actor.staff_no} 的密码已更改，请重新登录"
    return None


def check(session: Session, actor: Actor, at: dt.datetime | None = None) -> None:
    """Raise StaleActor unless the staff row still holds, read in `session`."""
    staff = session.scalar(select(Staff).where(Staff.staff_no == actor.staff_no))
    why = refusal(staff, actor, at or dt.datetime.now())
    if why:
        raise StaleActor(why)


def verifier(db: Database):  # type: ignore[no-untyped-def]
    """The check sign-in installs in an actor: a short read of its staff row."""

    def verify(actor: Actor) -> None:
        with db.sessions() as session:
            check(session, actor)

    return verify
