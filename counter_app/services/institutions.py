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
