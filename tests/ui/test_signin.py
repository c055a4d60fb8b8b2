"""Sign-in: a wrong password is refused the same way as an unknown staff number."""
from __future__ import annotations

from counter_app.services.staff import add_staff
from counter_app.store import Database
from counter_app.ui.app import application
from counter_app.ui.qt import Qt
from counter_app.ui.signin import SignInDialog


def test_sign_in(qtbot, sqlite_url):
    application()
    db = Database(sqlite_url)
    add_staff(db, "c001", "张晓燕", "outpatient_cashier", "1234")
    dialog = SignInDialog(db, "H34020200001")
    qtbot.addWidget(dialog)
    dialog.show()
    for staff_no, password in (("c001", "0000"), ("nobody", "1234")):
        dialog.staff_no.setText(staff_no)
        qtbot.keyClicks(dialog.password, password)
        qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
        assert dialog.message.text() == "工号或密码错误" and dialog.user is None and dialog.password.text() == ""
    dialog.staff_no.setText("c001")
    qtbot.keyClicks(dialog.password, "1234")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    assert dialog.result() == SignInDialog.DialogCode.Accepted
    assert (dialog.user.name, dialog.user.role_name, dialog.user.may("refund"), dialog.user.may("approve_refund")) == (
        "张晓燕", "门诊收费员", True, False)
