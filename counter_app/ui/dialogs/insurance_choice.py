"""The centre knows the patient under several insurances (1101 insuinfo[]): the cashier picks one."""

from __future__ import annotations

from ... import labels
from ...engine.money import fmt
from ...services.lookup import Choice
from ..qt import QDialog, QDialogButtonBox, QLabel, QListWidget, Qt, QVBoxLayout, QWidget, named


class InsuranceChoiceDialog(QDialog):
    """One line per insurance record; Enter takes the selected one (`index`)."""

    def __init__(self, parent: QWidget, choice: Choice) -> None:
        super().__init__(parent)
        self.choice = choice
        self.setWindowTitle(f"选择参保记录 — {choice.found.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("医保中心返回多条参保记录，请与参保人确认本次使用的险种："))
        self.records = named(QListWidget(), "insurance_records")
        for rec in choice.found.insurances:
            balance = f"，账户余额 {fmt(rec.balance)}" if rec.balance is not None else ""
            self.records.addItem(
                f"{labels.INSUTYPE.get(rec.insutype, rec.insutype)}（{rec.insutype}），参保地 "
                f"{rec.insuplc_admdvs or '—'}，{'正常' if rec.status == '1' else '非正常参保'}"
                f"{balance}{('，' + rec.emp_name) if rec.emp_name else ''}"
            )
        self.records.setCurrentRow(0)
        self.records.itemActivated.connect(lambda _item: self.accept())
        layout.addWidget(self.records)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @property
    def index(self) -> int:
        return max(0, self.records.currentRow())

    def load(self) -> None:
        self.records.setFocus()
