"""Admission: the deposit taken and how it was paid."""

from __future__ import annotations

from ...services.tenders import TENDERS
from ..qt import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    Qt,
    QWidget,
    named,
)


class AdmitDialog(QDialog):
    """Admission: the deposit (押金) taken and receipted."""

    def __init__(self, parent: QWidget, name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"办理入院 — {name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        self.deposit = named(QLineEdit("0.00"), "deposit")
        form.addRow("押金", self.deposit)
        self.tender = named(QComboBox(), "deposit_tender")
        for code, name in TENDERS.items():
            self.tender.addItem(name, code)
        form.addRow("支付方式", self.tender)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.deposit.setFocus()
        self.deposit.selectAll()
