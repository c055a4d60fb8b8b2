"""The two pots of a personal account (WH-11, rules.md decision 9): what it carried into the year
(历年结余) and this year's money (当年). Pure: the caller hands over the entries.

Decision 9's order inside one account: the holder's own spending takes this year's money first,
then the carried pot (先当年、后历年). Under a pack whose relatives draw only the carried pot
(Hefei, HF-3) a relative's draw takes it from there and its refund goes back there; otherwise a
relative's draw is spent like the holder's own. Credits, this year's opening and a refund of the
holder's own spending feed this year's pot; anything else feeds the carried one. (The yearly
interest, engine/interest.py, spends every debit by its rates file's `debit_order`.)
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from .interest import Movement
from .money import ZERO

THIS_YEAR = ("credit", "refund", "opening_current")
RELATIVES = ("mulaid",)  # a relative's draw (the self case's too: decision 8 classes it alike)
RELATIVES_BACK = ("refund_mulaid",)


def carried_left(
    brought_forward: Decimal, movements: Iterable[Movement], *, relatives_from_carried: bool = True
) -> Decimal:
    """What is left of the carried pot after this year's movements, in their order."""
    carried, current = brought_forward, ZERO
    for m in movements:
        if m.amount >= 0:
            if m.kind in THIS_YEAR or (m.kind in RELATIVES_BACK and not relatives_from_carried):
                current += m.amount
            else:
                carried += m.amount
            continue
        owed = -m.amount
        if m.kind in RELATIVES and relatives_from_carried:
            take = min(owed, max(carried, ZERO))
            carried, current = carried - take, current - (owed - take)
        else:
            take = min(owed, max(current, ZERO))
            current, carried = current - take, carried - (owed - take)
    return max(carried, ZERO)
