"""The supervisor's agency desk on demo data with history: crediting (twice, once credited),
interest refused before the year ends, the declaration tying, monitoring finding the planted
anomalies with its charts shown."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from counter_app.services.demo import create_demo
from counter_app.services.staff import sign_in
from counter_app.store import Database
from counter_app.store.models import LedgerEntry
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import QPushButton, Qt

from .test_counter_window import idle
from .test_counters import open_shift_in_window

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def desk(qtbot, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    create_demo(db, 2000, today=TODAY, history_months=3)
    application()
    user = sign_in(db, "s001", "1234", "H34020200001", "主管")
    settings = CounterSettings(user, tmp_path / "slips", today=TODAY)
    win = CounterWindow(db, user, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    open_shift_in_window(qtbot, win)
    win.menu_actions["经办业务（划入、计息、申报、监测）"].trigger()
    desk = win.dialog
    qtbot.waitUntil(lambda: desk.isVisible(), timeout=10_000)
    return db, win, desk, tmp_path


def click(qtbot, desk, name: str) -> None:
    """Click a desk button once the desk is idle (a button is disabled while a batch runs)."""
    desk.message.setText("")
    qtbot.waitUntil(lambda: desk.busy.text() == "", timeout=30_000)
    qtbot.mouseClick(desk.findChild(QPushButton, name), Qt.MouseButton.LeftButton)


def wait_done(qtbot, desk) -> None:
    qtbot.waitUntil(lambda: desk.message.text() != "" and desk.busy.text() == "", timeout=30_000)


def test_crediting_from_the_screen_credits_a_month_once(qtbot, desk):
    db, _win, d, _ = desk
    assert d.credit_month.text() == "2026-10"
    click(qtbot, d, "run_crediting")
    wait_done(qtbot, d)
    assert "本次记入" in d.credit_result.text() and "统筹基金划入" in d.credit_result.text()
    with db.sessions() as s:
        credited = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.period == "2026-10")
        )
    assert credited > 500
    click(qtbot, d, "run_crediting")
    wait_done(qtbot, d)
    assert f"本次记入 0 户，合计 0.00 元；此前已记入 {credited} 户" in d.credit_result.text()
    qtbot.waitUntil(lambda: d.runs.rowCount() == 2, timeout=10_000)
    assert d.runs.item(0, 1).text() == "账户划入" and d.runs.item(0, 6).text() == "0"


def test_interest_before_the_year_ends_is_refused_with_a_message(qtbot, desk):
    _, _, d, _ = desk
    d.tabs.setCurrentIndex(1)
    d.interest_year.setText("2026")
    click(qtbot, d, "run_interest")
    wait_done(qtbot, d)
    assert "2026 has not ended" in d.message.text()
    d.interest_year.setText("20x5")
    click(qtbot, d, "run_interest")
    assert "计息年度应为四位年份" in d.message.text()


@pytest.mark.slow
def test_declaration_and_monitoring_from_the_screen(qtbot, desk):
    _, _, d, tmp_path = desk
    d.tabs.setCurrentIndex(2)
    click(qtbot, d, "run_declaration")
    wait_done(qtbot, d)
    assert "与个人账户流水一致" in d.decl_result.text()
    assert d.decl_table.item(d.decl_table.rowCount() - 1, 0).text() == "合计"
    last = d.decl_table.rowCount() - 1
    money = [c for c in range(d.decl_table.columnCount()) if "." in (d.decl_table.item(last, c).text() or "")]
    assert money and all(
        d.decl_table.item(last, c).textAlignment() & int(Qt.AlignmentFlag.AlignRight) for c in money
    )  # money right-aligned, digits under digits (issue 27)
    d.decl_table.setFocus()  # with a table holding the focus, the tabs still switch by keyboard
    qtbot.keyClick(d.decl_table, Qt.Key.Key_4, Qt.KeyboardModifier.AltModifier)
    assert d.tabs.currentIndex() == 3
    qtbot.keyClick(d.tabs.currentWidget(), Qt.Key.Key_PageUp, Qt.KeyboardModifier.ControlModifier)
    assert d.tabs.currentIndex() == 2
    assert (tmp_path / "reports" / "declaration-H34020200001-2026-10.csv").exists()
    d.tabs.setCurrentIndex(3)
    click(qtbot, d, "run_monitoring")
    wait_done(qtbot, d)
    indicators = {d.anomalies.item(r, 0).text() for r in range(d.anomalies.rowCount())}
    assert indicators == {"门诊结算人次增长", "家庭共济支取"}
    assert not d.visits_chart.pixmap().isNull() and not d.indicators_chart.pixmap().isNull()
    charts = d.visits_chart.pixmap().width() + d.indicators_chart.pixmap().width()
    assert charts <= d.tabs.width()  # both charts fit the desk: none is cut off
    assert (tmp_path / "reports" / "monitoring-2026-10.pdf").exists()
    d.monitor_month.setText("2026/10")
    click(qtbot, d, "run_monitoring")
    assert "月份应写作 年-月，如 2026-10（现为 2026/10）" in d.message.text()


def test_a_cashier_does_not_see_the_agency_desk(qtbot, tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    create_demo(db, 50, today=TODAY)
    application()
    user = sign_in(db, "c001", "1234", "H34020200001", "门诊1")
    settings = CounterSettings(user, tmp_path / "slips", today=TODAY)
    win = CounterWindow(db, user, settings)
    qtbot.addWidget(win)
    assert "经办业务（划入、计息、申报、监测）" not in win.menu_actions


def test_an_account_statement_from_the_screen_adds_up_and_is_printed(qtbot, desk):
    from decimal import Decimal

    from sqlalchemy import select

    from counter_app.store.models import Account, Person

    db, _win, d, tmp = desk
    with db.sessions() as s:
        certno, balance = s.execute(
            select(Person.certno, Account.balance)
            .join(Account, Account.person_id == Person.id)
            .where(Account.balance > Decimal("0.00"))
            .order_by(Person.id)
        ).first()
    d.tabs.setCurrentIndex(4)
    d.stmt_certno.setText(certno)
    d.stmt_start.setText("2000-01-01")
    click(qtbot, d, "run_statement")
    qtbot.waitUntil(lambda: "逐笔累计" in d.stmt_result.text(), timeout=30_000)
    assert "逐笔累计与账户余额一致" in d.stmt_result.text()
    rows = d.stmt_table.rowCount()
    assert rows >= 3 and d.stmt_table.item(rows - 1, 1).text() == "期末余额"
    assert Decimal(d.stmt_table.item(rows - 1, 4).text()) == balance
    assert list(tmp.rglob("statement-*.pdf"))
