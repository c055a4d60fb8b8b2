"""Sign-in: staff number and password; the role decides the counter and what it may do."""
from __future__ import annotations

from ..services.errors import ServiceError
from ..services.staff import User, authenticate
from ..store import Database
from .qt import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit


class SignInDialog(QDialog):
    def __init__(self, db: Database, institution: str) -> None:
        super().__init__()
        self.db, self.user = db, None
        self.setWindowTitle(f"医保收费 — 登录（{institution}）")
        form = QFormLayout(self)
        self.staff_no = QLineEdit(objectName="staff_no")
        self.password = QLineEdit(objectName="password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = QLabel(objectName="signin_message")
        self.message.setStyleSheet("color: #b00020")
        form.addRow("工号", self.staff_no)
        form.addRow("密码", self.password)
        form.addRow(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.try_sign_in)
        buttons.rejected.connect(self.reject)
        self.password.returnPressed.connect(self.try_sign_in)
        form.addRow(buttons)

    def try_sign_in(self) -> None:
        try:
            self.user: User | None = authenticate(self.db, self.staff_no.text(), self.password.text())
        except ServiceError as exc:
            self.message.setText(str(exc))
            self.password.clear()
            return
        self.accept()
