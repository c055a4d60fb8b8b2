"""The counter's log after a demo session through the real window: it says what happened (who,
where, which settlement), and no line holds a full ID number or the name of anyone in the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from counter_app import logs
from counter_app.services.demo import DEMO_INSTITUTION, create_demo
from counter_app.services.errors import ServiceError
from counter_app.services.shift import close_day, open_shift
from counter_app.services.staff import sign_in
from counter_app.store import Database
from counter_app.store.models import Account, CatalogueItem, Person, Staff
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import Qt

from .test_counter_window import add_item, idle, press, scan


def test_a_demo_session_logs_what_happened_and_names_no_one(qtbot, tmp_path):
    log_file = logs.setup(tmp_path / "logs")
    db = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    create_demo(db, 150, history_months=1)
    with db.sessions() as s:
        people = s.execute(select(Person.name, Person.certno)).all()
        staff = list(s.scalars(select(Staff.name)))
        patients = list(
            s.scalars(
                select(Person.certno)
                .join(Account, Account.person_id == Person.id)
                .where(Account.balance > Decimal("50"), Person.hospitalized.is_(False))
                .limit(3)
            )
        )
        code = s.scalars(select(CatalogueItem.code).order_by(CatalogueItem.code)).first()
    with pytest.raises(ServiceError):
        sign_in(db, "c001", "wrong-password", DEMO_INSTITUTION, "门诊1")
    application()
    user = sign_in(db, "c001", "1234", DEMO_INSTITUTION, "门诊1")
    open_shift(db, user, Decimal("100.00"))
    win = CounterWindow(db, user, CounterSettings(user, tmp_path / "slips"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    settled = []
    for certno in patients:
        scan(qtbot, win, certno)
        add_item(qtbot, win, code)
        press(qtbot, win, Qt.Key.Key_F5)
        before = win.last_setl_no
        press(qtbot, win, Qt.Key.Key_F9)
        qtbot.waitUntil(lambda: win.last_setl_no != before, timeout=10_000)  # noqa: B023
        settled.append(win.last_setl_no)
        press(qtbot, win, Qt.Key.Key_Escape)
    unknown = patients[0][:-4] + ("0000" if patients[0][-4:] != "0000" else "1111")
    scan(qtbot, win, unknown)  # a mistyped ID number: refused, and the refusal is logged
    assert win.errors
    try:
        close_day(db, user, dt.date.today())  # a cashier may not: the refusal names the cashier
    except ServiceError as exc:
        win.show_error(exc)
    win.close()

    text = log_file.read_text(encoding="utf-8")
    for setl_no in settled:
        assert f"settled {setl_no} at 门诊1 by c001" in text  # it says what happened
    assert "sign-in refused" in text and "PermissionDenied" in text
    assert "CertnoError" in text or "NotFound" in text  # the mistyped scan
    leaks = [certno for _, certno in people if certno in text]
    leaks += [name for name, _ in people if name in text] + [name for name in staff if name in text]
    assert not leaks, leaks[:5]
