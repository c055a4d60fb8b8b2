"""Sign-in: staff number and password; the role decides the counter and what it may do.

Enter in 工号 moves to 密码. A first (or reset) password must be replaced before the counter
opens: the dialog then asks for a new one, twice. Five wrong passwords lock the id for five
minutes; the services decide that, the dialog only says it.
"""

from __future__ import annotations

from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.staff import PasswordChangeRequired, change_password, sign_in
from ..store import Database
from .qt import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, Qt, named


class SignInDialog(QDialog):
    def __init__(self, db: Database, institution: str, counter: str) -> None:
        super().__init__()
        self.db, self.institution, self.counter = db, institution, counter
        self.user: Actor | None = None
        self.setWindowTitle(f"医保收费 — 登录（{counter}）" if counter else "医保收费 — 登录")
        form = QFormLayout(self)
        self.staff_no = named(QLineEdit(), "staff_no")
        self.password = named(QLineEdit(), "password")
        self.new_password = named(QLineEdit(), "new_password")
        self.new_again = named(QLineEdit(), "new_password_again")
        for field in (self.password, self.new_password, self.new_again):
            field.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = named(QLabel(), "signin_message")
        self.message.setStyleSheet("color: #b00020")
        self.message.setWordWrap(True)
        form.addRow("工号", self.staff_no)
        form.addRow("密码", self.password)
        form.addRow("新密码", self.new_password)
        form.addRow("再次输入新密码", self.new_again)
        self.new_rows = (self.new_password, self.new_again)
        self._show_change(False)
        form.addRow(self.message)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        for kind, text in (
            (QDialogButtonBox.StandardButton.Ok, "登录"),
            (QDialogButtonBox.StandardButton.Cancel, "取消"),
        ):
            button = buttons.button(kind)
            button.setText(text)
            button.setAutoDefault(False)  # Enter belongs to the fields: 工号 → 密码 → sign in
            button.setDefault(False)
        buttons.accepted.connect(self.try_sign_in)
        buttons.rejected.connect(self.reject)
        self.staff_no.returnPressed.connect(self.password.setFocus)
        self.password.returnPressed.connect(self.try_sign_in)
        self.new_password.returnPressed.connect(self.new_again.setFocus)
        self.new_again.returnPressed.connect(self.try_sign_in)
        form.addRow(buttons)
        self.form = form

    def keyPressEvent(self, event) -> None:
        """Enter is the fields' (工号 → 密码 → sign in), never the dialog's default button."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            return
        super().keyPressEvent(event)

    def _show_change(self, visible: bool) -> None:
        layout = self.layout()
        for field in self.new_rows:
            if isinstance(layout, QFormLayout):
                layout.setRowVisible(field, visible)
            field.setVisible(visible)

    def try_sign_in(self) -> None:
        try:
            if self.new_password.isVisible():
                if self.new_password.text() != self.new_again.text():
                    raise ServiceError("两次输入的新密码不一致")
                change_password(
                    self.db,
                    self.staff_no.text(),
                    self.password.text(),
                    self.new_password.text(),
                    self.counter,
                )
                self.password.setText(self.new_password.text())
            self.user = sign_in(
                self.db, self.staff_no.text(), self.password.text(), self.institution, self.counter
            )
        except PasswordChangeRequired as exc:
            self.message.setText(str(exc))
            self._show_change(True)
            self.new_password.setFocus()
            return
        except ServiceError as exc:
            self.message.setText(str(exc))
            if not self.new_password.isVisible():
                self.password.clear()
                self.password.setFocus()
            return
        self.accept()
