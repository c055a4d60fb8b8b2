"""Staff, sign-in and approvals: the only way to an Actor.

Sign-in locks a staff id for 5 minutes after 5 failures in a row, and a new staff member (or one
whose password was reset) must set a password of their own before signing in. Every sign-in,
failed or not, every approval and every staff change is audited. A refund approval is made by a
supervisor's password at that moment, for that settlement, and carried to the refund as an object
only this module makes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import Institution, RefundApproval, Shift, Staff
from . import actor as actors
from . import actor_check
from .actor import Actor, PermissionDenied, permission_names, roles
from .audit import record
from .errors import ServiceError

MAX_FAILURES = 5
LOCK_MINUTES = 5
APPROVAL_MINUTES = 5  # a refund approval is for the refund being done now (issue 26)
MIN_PASSWORD = 6
MAX_FIELD = 64  # a staff number or password longer than this is not one

log = logging.getLogger(__name__)


class SignInRefused(ServiceError):
    pass


class PasswordChangeRequired(ServiceError):
    """The password was right, but it is a first or reset one: set a new one before signing in."""

    def __init__(self, staff_no: str) -> None:
        super().__init__("首次登录或密码已重置，请先设置新密码")
        self.staff_no = staff_no


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


# a hash no password matches (its salt fixed, its digest all zeros): checked for an unknown staff id
_NOBODY = f"scrypt${'00' * 16}${'00' * 64}"


def _verify(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


def _clean(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused(f"请输入{what}")
    if len(value) > MAX_FIELD or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise SignInRefused(f"{what}含有不可用的字符或过长")
    return value.strip() if what == "工号" else value


def _check_password(
    session: Session, staff_no: str, password: str, counter: str, at: dt.datetime, action: str
) -> tuple[Staff | None, str | None]:
    """(staff, None) when the password is right and the id not locked, else (staff, refusal).
    Counts failures and locks; audits a failure (the caller commits it before refusing)."""
    staff = session.scalar(select(Staff).where(Staff.staff_no == staff_no, Staff.active.is_(True)))
    if staff is not None and staff.locked_until is not None and staff.locked_until > at:
        minutes = max(1, int((staff.locked_until - at).total_seconds() // 60) + 1)
        record(session, (staff_no, counter), f"{action}_locked", staff_no, at=at)
        return staff, f"工号 {staff_no} 因连续 {MAX_FAILURES} 次密码错误已锁定，请 {minutes} 分钟后再试"
    if staff is None:
        _verify(password, _NOBODY)  # the same work for an unknown id: ids cannot be listed by timing
    if staff is None or not _verify(password, staff.password_hash):
        if staff is not None:
            staff.failed_signins += 1
            if staff.failed_signins >= MAX_FAILURES:
                staff.locked_until, staff.failed_signins = at + dt.timedelta(minutes=LOCK_MINUTES), 0
        record(
            session,
            (staff_no, counter),
            f"{action}_failed",
            staff_no,
            at=at,
            after={"locked_until": staff.locked_until if staff else None},
        )
        return staff, "工号或密码错误"
    return staff, None


COUNTERS_BY_ROLE = {"inpatient_cashier": "住院1", "pharmacy_clerk": "药房1", "agency_clerk": "经办1"}


def counter_for(role: str, institution_kind: str | None) -> str:
    """The counter's name when the settings leave it empty: by the role signing in, and 药房1 at a
    pharmacy, so an inpatient cashier is never at 门诊1 by default (issue 27)."""
    if institution_kind == "pharmacy":
        return "药房1"
    return COUNTERS_BY_ROLE.get(role, "门诊1")


def sign_in(
    db: Database,
    staff_no: str,
    password: str,
    institution_code: str,
    counter: str,
    *,
    now: dt.datetime | None = None,
) -> Actor:
    """The actor for this staff member at this counter (empty: named by role, `counter_for`), with
    their open shift there, if any."""
    staff_no, password = _clean(staff_no, "工号"), _clean(password, "密码")
    at = now or dt.datetime.now()
    refusal: str | None = None
    with db.transaction() as session:
        staff, refusal = _check_password(session, staff_no, password, counter or "登录", at, "sign_in")
        if refusal is None:
            assert staff is not None
            if not counter:
                kind = session.scalar(select(Institution.kind).where(Institution.code == institution_code))
                counter = counter_for(staff.role, kind)
            if staff.must_change_password:
                refusal = "change"
            else:
                staff.failed_signins, staff.locked_until = 0, None
                shift = session.scalar(
                    select(Shift.id)
                    .join(Institution)
                    .where(
                        Institution.code == institution_code,
                        Shift.counter == counter,
                        Shift.cashier == staff.staff_no,
                        Shift.closed_at.is_(None),
                    )
                )
                actor = actors._make(
                    staff_no=staff.staff_no,
                    name=staff.name,
                    role=staff.role,
                    institution_code=institution_code,
                    counter=counter,
                    shift_id=shift,
                    credential=actor_check.credential(staff.password_hash),
                    _verify=actor_check.verifier(db),
                )
                record(session, actor, "sign_in", staff.staff_no, at=at)
                log.info("signed in: %s (%s) at %s %s", staff.staff_no, staff.role, institution_code, counter)
                return actor
    log.warning("sign-in refused at %s: staff number %r: %s", counter, staff_no[:30], refusal)
    if refusal == "change":
        raise PasswordChangeRequired(staff_no)
    raise SignInRefused(refusal)


def change_password(
    db: Database, staff_no: str, old: str, new: str, counter: str, *, now: dt.datetime | None = None
) -> None:
    """The staff member sets their own password (at first sign-in, or whenever they like)."""
    staff_no, old = _clean(staff_no, "工号"), _clean(old, "密码")
    new = _clean(new, "新密码")
    if len(new) < MIN_PASSWORD:
        raise SignInRefused(f"新密码至少 {MIN_PASSWORD} 位")
    if new == old:
        raise SignInRefused("新密码不能与原密码相同")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        staff, refusal = _check_password(session, staff_no, old, counter, at, "password_change")
        if refusal is None:
            assert staff is not None
            staff.password_hash, staff.must_change_password = hash_password(new), False
            staff.failed_signins, staff.locked_until = 0, None
            record(session, (staff_no, counter), "password_change", staff_no, at=at)
            return
    raise SignInRefused(refusal)


def add_staff(
    db: Database,
    actor: Actor,
    staff_no: str,
    name: str,
    role: str,
    temporary_password: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """A new staff member, who must set their own password at first sign-in."""
    actor.require("staff_admin")
    staff_no, name = _clean(staff_no, "工号"), _clean(name, "姓名")
    if role not in roles():
        raise ServiceError(f"未知角色：{role}")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        if session.scalar(select(Staff.id).where(Staff.staff_no == staff_no)) is not None:
            raise ServiceError(f"工号 {staff_no} 已存在")
        session.add(
            Staff(
                staff_no=staff_no,
                name=name,
                role=role,
                password_hash=hash_password(temporary_password),
                active=True,
                must_change_password=True,
                failed_signins=0,
            )
        )
        record(session, actor, "staff_add", staff_no, at=at, after={"name": name, "role": role})


def reset_password(
    db: Database, actor: Actor, staff_no: str, temporary_password: str, *, now: dt.datetime | None = None
) -> None:
    """A forgotten password or a locked id: a temporary password, to be changed at sign-in."""
    actor.require("staff_admin")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        staff = session.scalar(select(Staff).where(Staff.staff_no == staff_no))
        if staff is None:
            raise ServiceError(f"没有工号 {staff_no}")
        staff.password_hash, staff.must_change_password = hash_password(temporary_password), True
        staff.failed_signins, staff.locked_until = 0, None
        record(session, actor, "password_reset", staff_no, at=at)


_APPROVAL_SEAL = object()


@dataclass(frozen=True, slots=True)
class Approval:
    """A supervisor's approval of one refund, given by their password on the cashier's screen;
    `record_id` names its row (RefundApproval), which the refund checks and consumes."""

    approver: str
    name: str
    setl_no: str
    approved_at: dt.datetime
    audit_id: int
    record_id: int = 0
    _seal: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _APPROVAL_SEAL:
            raise TypeError("an Approval is made only by services.staff.approve_refund")


def approve_refund(
    db: Database, actor: Actor, staff_no: str, password: str, setl_no: str, *, now: dt.datetime | None = None
) -> Approval:
    """The supervisor signs in on `actor`'s screen to approve refunding `setl_no`."""
    staff_no, password = _clean(staff_no, "工号"), _clean(password, "密码")
    at = now or dt.datetime.now()
    refusal: str | None = None
    with db.transaction() as session:
        staff, refusal = _check_password(session, staff_no, password, actor.counter, at, "approve")
        if refusal is None:
            assert staff is not None
            if "approve_refund" not in roles()[staff.role].permissions:
                refusal = f"{staff.name}（{roles()[staff.role].name}）无退费审批权限"
            else:
                staff.failed_signins, staff.locked_until = 0, None
                entry = record(
                    session, actor, "refund_approval", setl_no, at=at, after={"approver": staff.staff_no}
                )
                row = RefundApproval(
                    setl_no=setl_no,
                    institution_code=actor.institution_code,
                    counter=actor.counter,
                    approver=staff.staff_no,
                    approved_at=at,
                    expires_at=at + dt.timedelta(minutes=APPROVAL_MINUTES),
                )
                session.add(row)
                session.flush()
                return Approval(staff.staff_no, staff.name, setl_no, at, entry.id, row.id, _APPROVAL_SEAL)
    raise PermissionDenied(refusal) if refusal and "审批权限" in refusal else SignInRefused(refusal)


def supervisor_check(
    session: Session, staff_no: str, password: str, counter: str, at: dt.datetime, permission: str
) -> str:
    """A supervisor's password typed on another's screen, in the caller's transaction: their staff
    number when it is right and their role has `permission`, else SignInRefused or PermissionDenied.
    A wrong password counts towards the lockout as at sign-in: the caller commits before raising."""
    staff_no, password = _clean(staff_no, "工号"), _clean(password, "密码")
    staff, refusal = _check_password(session, staff_no, password, counter, at, permission)
    if refusal is not None:
        raise SignInRefused(refusal)
    assert staff is not None
    if permission not in roles()[staff.role].permissions:
        raise PermissionDenied(
            f"{staff.name}（{roles()[staff.role].name}）无权{permission_names()[permission]}"
        )
    staff.failed_signins, staff.locked_until = 0, None
    return staff.staff_no


def approval_for(approval: Any, setl_no: str) -> Approval:
    """The approval, checked to be a real one for this settlement (before any transaction; the
    refund consumes its row with `consume_approval`)."""
    if not isinstance(approval, Approval) or approval._seal is not _APPROVAL_SEAL:
        raise PermissionDenied("退费须由主管当场输入密码审批")
    if approval.setl_no != setl_no:
        raise PermissionDenied(f"该审批是针对结算 {approval.setl_no} 的，不能用于 {setl_no}")
    return approval


def consume_approval(session: Session, approval: Approval, setl_no: str, ctx: Actor, at: dt.datetime) -> None:
    """Inside the refund's transaction: the approval's row is for this settlement, typed at this
    counter, not expired and not used; it is used now. Anything else is PermissionDenied."""
    row = session.get(RefundApproval, approval.record_id, with_for_update=True)
    if row is None:
        raise PermissionDenied("没有这份退费审批记录，请主管重新审批")
    if row.setl_no != setl_no:
        raise PermissionDenied(f"该审批是针对结算 {row.setl_no} 的，不能用于 {setl_no}")
    if (row.institution_code, row.counter) != (ctx.institution_code, ctx.counter):
        raise PermissionDenied(f"该审批是在 {row.counter} 作出的，不能在 {ctx.counter} 使用")
    if row.used_at is not None:
        raise PermissionDenied(f"该审批已于 {row.used_at:%H:%M:%S} 用过，请主管重新审批")
    if at > row.expires_at:
        raise PermissionDenied(f"该审批已过期（{APPROVAL_MINUTES} 分钟内有效），请主管重新审批")
    row.used_at = at


def demo_staff_row(staff_no: str, name: str, role: str, password: str) -> Staff:
    """Demo data only: staff whose demo passwords are known, so no change is asked for."""
    return Staff(
        staff_no=staff_no,
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        must_change_password=False,
        failed_signins=0,
    )
