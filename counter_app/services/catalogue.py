"""Catalogue search as the cashier types: by code prefix, pinyin initials or part of the name."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, or_, select

from ..store import Database
from ..store.models import CatalogueItem


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    code: str
    name: str
    cls: str
    price: Decimal
    unit: str
    prepay_ratio: Decimal
    account_payable: bool


MAX_SEARCH = 50  # longer than any code, pinyin or name in the catalogue


def search(db: Database, text: str, limit: int = 30) -> list[CatalogueEntry]:
    """Code prefix first, then pinyin-initials prefix, then name containing the text (read only:
    the window calls it on every keystroke)."""
    text = text.strip()
    if not text or len(text) > MAX_SEARCH or not text.isprintable():
        return []  # nothing in the catalogue looks like a paste gone wrong; the window says "no match"
    upper = text.upper()
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rank = case(
        (CatalogueItem.code.like(f"{upper}%", escape="\\"), 0),
        (CatalogueItem.pinyin.like(f"{upper}%", escape="\\"), 1),
        else_=2,
    )
    with db.sessions() as session:
        rows = session.scalars(
            select(CatalogueItem)
            .where(
                or_(
                    CatalogueItem.code.like(f"{upper}%", escape="\\"),
                    CatalogueItem.pinyin.like(f"{upper}%", escape="\\"),
                    CatalogueItem.name.like(f"%{like}%", escape="\\"),
                )
            )
            .order_by(rank, CatalogueItem.code)
            .limit(limit)
        )
        return [
            CatalogueEntry(c.code, c.name, c.cls, c.price, c.unit, c.prepay_ratio, c.account_payable)
            for c in rows
        ]
