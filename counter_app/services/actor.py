"""The signed-in actor: who is working, in which role, at which counter and shift.

Every service that moves money, prints, binds or runs a batch takes an Actor and checks the
permission itself (`actor.require`), so calling a service directly grants nothing the window
would not. Only sign-in (services/staff.py) makes an Actor: the constructor wants a seal that
module holds. The role → permission table is data (resources/roles/roles.toml), read here once
and used by the services and by the window alike.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ..resources import resource_dir
from .errors import ServiceError

MED_TYPE_PERMISSION = {"41": "settle_pharmacy", "21": "settle_inpatient", "52": "settle_inpatient"}


class PermissionDenied(ServiceError):
    """The actor's role may not do this; nothing was written."""


class StaleActor(PermissionDenied):
    """The staff row no longer says what it said at sign-in (deactivated, deleted, locked, another
    role, a new password): the window goes back to sign-in."""


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    permissions: frozenset[str]


@functools.cache
def _table() -> tuple[dict[str, Role], dict[str, str]]:
    with open(resource_dir() / "roles" / "roles.toml", "rb") as f:
        data = tomllib.load(f)
    names = dict(data["permission_names"])
    roles = {}
    for key, role in data["roles"].items():
        unknown = set(role["permissions"]) - set(names)
        if unknown:
            raise ValueError(f"roles.toml: role {key} names unknown permissions {sorted(unknown)}")
        roles[key] = Role(role["name"], frozenset(role["permissions"]))
    return roles, names


def roles() -> dict[str, Role]:
    return _table()[0]


def permission_names() -> dict[str, str]:
    return _table()[1]


_SEAL = object()  # held by this module; staff.sign_in passes it through `_make`


@dataclass(frozen=True, slots=True)
class Actor:
    staff_no: str
    name: str
    role: str
    institution_code: str
    counter: str
    shift_id: int | None = None
    # a digest of the password hash at sign-in: a new password makes this actor stale (issue 26)
    credential: str = field(default="", repr=False)
    _seal: Any = field(default=None, repr=False, compare=False)
    # set by sign-in: re-reads the staff row, raising StaleActor when it no longer holds (check_actor)
    _verify: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("an Actor is made only by signing in (services.staff.sign_in)")
        if self.role not in roles():
            raise TypeError(f"unknown role {self.role!r}")

    @property
    def cashier(self) -> str:
        """The staff number recorded on settlements, shifts and prints."""
        return self.staff_no

    @property
    def role_name(self) -> str:
        return roles()[self.role].name

    def may(self, permission: str) -> bool:
        if permission not in permission_names():
            raise KeyError(f"unknown permission {permission!r}")
        return permission in roles()[self.role].permissions

    def require(self, permission: str) -> None:
        """Refuse (PermissionDenied) unless the role has `permission` and the staff row still says
        what it said at sign-in (active, unlocked, same role and password); call before writing."""
        self.require_role(permission)
        if self._verify is not None:
            self._verify(self)

    def require_role(self, permission: str) -> None:
        """The role check alone, for a service whose own statement re-reads the staff row (the
        counter's state: services/shift.py), so a settle costs no extra statement."""
        if not self.may(permission):
            raise PermissionDenied(f"{self.name}（{self.role_name}）无权{permission_names()[permission]}")

    def require_settle(self, med_type: str) -> None:
        self.require(MED_TYPE_PERMISSION.get(med_type, "settle_outpatient"))

    def require_settle_role(self, med_type: str) -> None:
        """`require_settle` without the fresh read: for the services that read the counter's
        state in their own transaction (services/shift.py), which re-reads the staff row."""
        self.require_role(MED_TYPE_PERMISSION.get(med_type, "settle_outpatient"))


def _make(**fields: Any) -> Actor:
    """For services.staff only: the one place an Actor is made."""
    return Actor(**fields, _seal=_SEAL)
