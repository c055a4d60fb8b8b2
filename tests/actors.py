"""Signed-in actors for tests, made the only way the application allows: by signing in.

Staff rows get one password hash computed once per test session (scrypt is slow on purpose), and
are marked as having chosen their password, so `sign_in` hands out the actor at once."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import select
from sqlalchemy.orm import Session

from counter_app.services.actor import Actor
from counter_app.services.audit import record
from counter_app.services.staff import approve_refund, demo_staff_row, sign_in
from counter_app.store import Database
from counter_app.store.models import Staff

PASSWORD = "test-pass-1"
HOSPITAL = "H34020200001"
STAFF = {  # role -> (staff number, name)
    "outpatient_cashier": ("cashier1", "张晓燕"),
    "inpatient_cashier": ("inpat1", "刘洋"),
    "pharmacy_clerk": ("pharm1", "陈静"),
    "agency_clerk": ("agency1", "赵敏"),
    "supervisor": ("supervisor1", "王建华"),
}


@functools.cache
def _row_template(role: str):
    staff_no, name = STAFF[role]
    return demo_staff_row(staff_no, name, role, PASSWORD)


def ensure_staff(db: Database, *roles: str) -> None:
    with db.transaction() as s:
        have = set(s.scalars(select(Staff.staff_no)))
        for role in roles or tuple(STAFF):
            t = _row_template(role)
            if t.staff_no not in have:
                s.add(
                    Staff(
                        staff_no=t.staff_no,
                        name=t.name,
                        role=t.role,
                        password_hash=t.password_hash,
                        active=True,
                        must_change_password=False,
                        failed_signins=0,
                    )
                )
        _audited(s, "tests: staff")


def _audited(session: Session, what: str) -> None:
    """Staff rows are sealed by the entry that writes them (store/audit.py), as the staff service does."""
    if session.new:
        record(session, ("system", "tests"), "staff_added", what, at=dt.datetime.now().replace(microsecond=0))


def actor(db: Database, role: str, *, institution: str = HOSPITAL, counter: str | None = None) -> Actor:
    """`role`'s staff member signed in at `counter` (the outpatient cashier at 门诊1 by default)."""
    ensure_staff(db, role)
    default = "门诊1" if role == "outpatient_cashier" else f"窗口-{role}"
    return sign_in(db, STAFF[role][0], PASSWORD, institution, counter or default)


def approval(db: Database, by: Actor, setl_no: str):
    """The supervisor's approval of refunding `setl_no`, given on `by`'s screen."""
    ensure_staff(db, "supervisor")
    return approve_refund(db, by, STAFF["supervisor"][0], PASSWORD, setl_no)


def add_staff(db: Database, staff_no: str, name: str, role: str, password: str) -> None:
    """A staff member who has already chosen `password` (as after their first sign-in)."""
    with db.transaction() as s:
        s.add(demo_staff_row(staff_no, name, role, password))
        _audited(s, staff_no)
