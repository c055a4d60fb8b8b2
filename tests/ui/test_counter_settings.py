"""The supervisor's 设置 dialog (F8): it edits the same settings file as `counter-app config`,
checks each value against the real thing (the database, a real reference centre's signed
handshake) and records the change in the audit log; a cashier may not."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from counter_app import config
from counter_app.services.actor import PermissionDenied
from counter_app.services.counter_settings import change
from counter_app.services.shift import open_shift
from counter_app.store.models import AuditEntry
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import Qt
from tests.centre_process import CentreProcess
from tests.services.world import build

from .test_counter_window import idle, press


@pytest.fixture
def world(sqlite_url):
    return build(sqlite_url)


def window(qtbot, world, tmp_path, role: str) -> CounterWindow:
    application()
    user = world.actor(role)
    if role != "outpatient_cashier":  # the world's cashier has a shift; others would be asked to open one
        open_shift(world.db, user, Decimal("0.00"))
    win = CounterWindow(world.db, user, CounterSettings(user, tmp_path / "slips"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    return win


def test_a_supervisor_checks_and_saves_the_settings_and_the_change_is_audited(
    qtbot, world, tmp_path, _own_settings_file
):
    centre = CentreProcess(tmp_path).start()
    try:
        win = window(qtbot, world, tmp_path, "supervisor")
        press(qtbot, win, Qt.Key.Key_F8)
        dialog = win.dialog
        dialog.inputs["backup_keep"].setText("many")
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
        assert "backup_keep: must be a whole number" in dialog.result_label.text()
        dialog.inputs["backup_keep"].setText("9")
        dialog.inputs["database"].setText(world.db.url.render_as_string(hide_password=False))
        dialog.inputs["centre"].setText(centre.url)
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "医保中心" in dialog.result_label.text(), timeout=30_000)
        assert "签到成功" in dialog.result_label.text() and "可用" in dialog.result_label.text()
        dialog.inputs["paasid"].setText("training")
        dialog.inputs["passtoken"].setText("not-the-token")
        qtbot.mouseClick(dialog.check_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(
            lambda: "网关拒绝" in dialog.result_label.text(), timeout=30_000
        )  # a wrong secret is said
        dialog.inputs["paasid"].setText("")
        dialog.inputs["passtoken"].setText("")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "已保存" in dialog.result_label.text(), timeout=10_000)
    finally:
        centre.stop()
    saved = config.load()
    assert saved.backup_keep == 9 and saved.centre == centre.url
    with world.db.sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "settings")).one()
    detail = json.loads(entry.detail)
    assert entry.staff_no == "supervisor1"
    assert detail["after"]["backup_keep"] == "9" and detail["before"]["backup_keep"] == "14"


def test_a_cashier_may_not_change_the_settings(qtbot, world, tmp_path, _own_settings_file):
    win = window(qtbot, world, tmp_path, "outpatient_cashier")
    press(qtbot, win, Qt.Key.Key_F8)
    assert "无权修改本窗口设置" in win.errors[-1]
    with pytest.raises(PermissionDenied):  # the service decides, not the window
        change(world.db, win.user, config.Settings(backup_keep=3))
    assert not _own_settings_file.exists()


def test_the_settings_dialog_speaks_chinese_and_shows_its_placeholders_whole(qtbot, tmp_path):
    """No field name of the settings file or the platform on screen, no placeholder cut (issue 27);
    a screenshot of it is kept for people to look at."""
    from counter_app.ui.qt import QLabel, QLineEdit
    from tests.services.world import build

    from .test_counter_window import open_window

    world = build(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    from tests.actors import add_staff

    add_staff(world.db, "s001", "王建华", "supervisor", "5678")
    win = open_window(qtbot, world, tmp_path, "s001", "5678")
    win.counter_settings()
    dialog = win.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=10_000)
    words = " ".join(label.text() for label in dialog.findChildren(QLabel))
    for english in ("fixmedins_code", "URL", "paasid", "passtoken", "usb:VID"):
        assert english not in words, english
    for line in dialog.findChildren(QLineEdit):
        if line.placeholderText():
            assert line.width() >= line.fontMetrics().horizontalAdvance(line.placeholderText()), (
                line.objectName()
            )
    assert dialog.grab().save(str(tmp_path / "settings.png"))
