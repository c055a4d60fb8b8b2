"""The institution a counter belongs to, by its code (fixmedins_code): one lookup every service uses."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store.models import Institution
from .errors import NotFound


def by_code(session: Session, code: str) -> Institution:
    inst = session.scalar(select(Institution).where(Institution.code == code))
    if inst is None:
        raise NotFound(f"未知的定点机构编码：{code}")
    return inst


def policy_of_place(session: Session, insuplc_admdvs: str | None) -> str | None:
    """The policy of a place of insurance: that of the institutions of its division (first four
    digits); with no place recorded, this database's own region, its first institution's. A
    binding is made under its provider's (migration 0011 reads old bindings the same way)."""
    if insuplc_admdvs:
        found = session.scalar(
            select(Institution.policy)
            .where(Institution.admdvs.startswith(insuplc_admdvs[:4]))
            .order_by(Institution.id)
            .limit(1)
        )
        if found:
            return found
    return session.scalar(select(Institution.policy).order_by(Institution.id).limit(1))
