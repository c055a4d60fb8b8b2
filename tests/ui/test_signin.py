"""Sign-in: a wrong password is refused the same way as an unknown staff number."""

from __future__ import annotations

from counter_app.store import Database
from counter_app.ui.app import application
from counter_app.ui.qt import Qt
from counter_app.ui.signin import SignInDialog
from tests.actors import add_staff


def test_sign_in(qtbot, sqlite_url):
    application()
    db = Database(sqlite_url)
    add_staff(db, "c001", "张晓燕", "outpatient_cashier", "1234")
    dialog = SignInDialog(db, "H34020200001", "门诊1")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    for staff_no, password in (("c001", "0000"), ("nobody", "1234")):
        dialog.staff_no.setText(staff_no)
        dialog.staff_no.setFocus()
        qtbot.keyClick(dialog.staff_no, Qt.Key.Key_Return)  # Enter in 工号 moves on, it does not submit
        qtbot.waitUntil(dialog.password.hasFocus, timeout=10_000)
        assert dialog.message.text() in ("", "工号或密码错误")
        qtbot.keyClicks(dialog.password, password)
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
        assert (
            dialog.message.text() == "工号或密码错误" and dialog.user is None and dialog.password.text() == ""
        )
    dialog.staff_no.setText("c001")
    qtbot.keyClicks(dialog.password, "1234")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert dialog.result() == SignInDialog.DialogCode.Accepted
    assert (
        dialog.user.name,
        dialog.user.role_name,
        dialog.user.may("refund"),
        dialog.user.may("approve_refund"),
    ) == ("张晓燕", "门诊收费员", True, False)


def test_first_sign_in_sets_a_password_and_five_failures_lock(qtbot, sqlite_url):
    from counter_app.services.staff import SignInRefused, sign_in
    from counter_app.services.staff import add_staff as admin_add_staff
    from tests.actors import actor

    application()
    db = Database(sqlite_url)
    admin_add_staff(db, actor(db, "supervisor"), "c009", "新员工", "outpatient_cashier", "temp-0001")
    dialog = SignInDialog(db, "H34020200001", "门诊2")
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.staff_no.setText("c009")
    qtbot.keyClicks(dialog.password, "temp-0001")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert dialog.message.text() == "首次登录或密码已重置，请先设置新密码" and dialog.new_password.isVisible()
    qtbot.keyClicks(dialog.new_password, "mine-4321")
    qtbot.keyClick(dialog.new_password, Qt.Key.Key_Return)
    qtbot.keyClicks(dialog.new_again, "mine-4321")
    qtbot.keyClick(dialog.new_again, Qt.Key.Key_Return)
    assert dialog.result() == SignInDialog.DialogCode.Accepted and dialog.user.staff_no == "c009"
    for _ in range(5):
        try:
            sign_in(db, "c009", "wrong", "H34020200001", "门诊2")
        except SignInRefused as exc:
            assert str(exc) == "工号或密码错误"
    try:  # locked now, even with the right password
        sign_in(db, "c009", "mine-4321", "H34020200001", "门诊2")
        raise AssertionError("a locked id signed in")
    except SignInRefused as exc:
        assert "已锁定" in str(exc) and "5 分钟" in str(exc)
