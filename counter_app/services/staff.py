"""Staff and what each role may do. Reprint and refund are separate permissions; a refund needs
a supervisor's approval on top of the cashier's own permission."""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from sqlalchemy import select

from ..store import Database
from ..store.models import Staff
from .errors import ServiceError

ROLES = {
    "outpatient_cashier": "门诊收费员",
    "inpatient_cashier": "住院收费员",
    "pharmacy_clerk": "药店营业员",
    "supervisor": "收费主管",
}
PERMISSIONS = {
    "outpatient_cashier": frozenset({"settle_outpatient", "reprint", "refund"}),
    "inpatient_cashier": frozenset({"settle_inpatient", "reprint", "refund"}),
    "pharmacy_clerk": frozenset({"settle_pharmacy", "reprint"}),
    "supervisor": frozenset({"settle_outpatient", "reprint", "refund", "approve_refund", "bind", "reports"}),
}


@dataclass(frozen=True, slots=True)
class User:
    staff_no: str
    name: str
    role: str

    @property
    def role_name(self) -> str:
        return ROLES[self.role]

    def may(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _verify(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


def add_staff(db: Database, staff_no: str, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise ServiceError(f"未知角色：{role}")
    with db.transaction() as s:
        s.add(Staff(staff_no=staff_no, name=name, role=role, password_hash=hash_password(password), active=True))


def authenticate(db: Database, staff_no: str, password: str) -> User:
    """The signed-in user; the same refusal for an unknown id and a wrong password."""
    with db.sessions() as s:
        staff = s.scalar(select(Staff).where(Staff.staff_no == staff_no.strip(), Staff.active.is_(True)))
    if staff is None or not _verify(password, staff.password_hash):
        raise ServiceError("工号或密码错误")
    return User(staff.staff_no, staff.name, staff.role)


def approve_refund(db: Database, staff_no: str, password: str) -> User:
    """A supervisor's approval, given by signing in on the cashier's screen."""
    user = authenticate(db, staff_no, password)
    if not user.may("approve_refund"):
        raise ServiceError(f"{user.name}（{user.role_name}）无退费审批权限")
    return user
