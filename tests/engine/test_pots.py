"""The two pots of an account (WH-11, decision 9): own spending takes this year's money first,
a Hefei relative's draw the carried pot, a refund goes back to the pot it came from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from counter_app.engine.interest import Movement
from counter_app.engine.pots import carried_left

DAY = dt.date(2024, 3, 1)


def m(amount: str, kind: str) -> Movement:
    return Movement(DAY, D(amount), kind)


def test_decision_9_own_spending_takes_this_years_money_first():
    assert carried_left(D("100.00"), [m("50.00", "credit"), m("-70.00", "settle")]) == D("80.00")
    assert carried_left(D("100.00"), [m("-30.00", "settle"), m("50.00", "credit")]) == D("70.00")


def test_decision_9_a_relatives_draw_takes_the_carried_pot_and_its_refund_goes_back():
    moves = [m("50.00", "credit"), m("-40.00", "mulaid"), m("40.00", "refund_mulaid")]
    assert carried_left(D("100.00"), moves[:2]) == D("60.00")
    assert carried_left(D("100.00"), moves) == D("100.00")
    assert carried_left(D("100.00"), moves[:2], relatives_from_carried=False) == D("100.00")


def test_a_this_years_opening_feeds_this_years_pot_and_never_goes_below_zero():
    assert carried_left(D("0.00"), [m("300.00", "opening_current"), m("-100.00", "settle")]) == D("0.00")
    assert carried_left(D("10.00"), [m("-30.00", "mulaid")]) == D("0.00")
