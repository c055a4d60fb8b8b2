"""The visit's clinical facts at the counter: department, doctor and diagnoses (services/clinical.py).

A widget that owns its state: it is filled once from the institution's choices, starts at the
default department and that department's default doctor, and finds diagnoses in the disease
catalogue as the cashier types (code or pinyin initials, Enter takes the first match). It says
`changed` when any of them changes; `fields()` is what goes into the claim request. Nothing here
decides a rule: an empty diagnosis is the service's to accept or refuse (a chronic visit).
"""

from __future__ import annotations

from collections.abc import Callable

from ...services.clinical import Choices, Diagnosis
from ..qt import QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSizePolicy, QWidget, Signal, named

DEFAULT_DOCTOR = ""  # the combo's data for "the department's default doctor"


class VisitPanel(QWidget):
    changed = Signal()

    def __init__(
        self, choices: Choices, find: Callable[[str], list[Diagnosis]], parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.choices, self._find = choices, find
        self.diagnoses: list[Diagnosis] = []
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("科室"))
        self.department = named(QComboBox(), "department")
        self.department.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.department.setMinimumContentsLength(6)
        for code, name, _ in choices.departments:
            self.department.addItem(f"{name}", code)
        row.addWidget(self.department)
        row.addWidget(QLabel("医师"))
        self.doctor = named(QComboBox(), "doctor")
        self.doctor.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.doctor.setMinimumContentsLength(8)
        row.addWidget(self.doctor)
        row.addWidget(QLabel("诊断"))
        self.diagnosis = named(QLineEdit(), "diagnosis")
        self.diagnosis.setPlaceholderText("编码或拼音，回车")
        self.diagnosis.setMinimumWidth(90)
        self.diagnosis.returnPressed.connect(self.take_diagnosis)
        row.addWidget(self.diagnosis, 1)
        self.chosen = named(QLabel(), "diagnoses")
        self.chosen.setSizePolicy(
            QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
        )  # never widens the window
        row.addWidget(self.chosen, 2)
        self.clear = named(QPushButton("清除诊断"), "clear_diagnoses")
        self.clear.clicked.connect(self.clear_diagnoses)
        row.addWidget(self.clear)
        self.department.currentIndexChanged.connect(self._department_changed)
        self.doctor.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.reset()

    def reset(self) -> None:
        """The defaults again, no diagnosis: a new patient."""
        default = next((n for n, (_, _, d) in enumerate(self.choices.departments) if d), 0)
        self.department.blockSignals(True)
        self.department.setCurrentIndex(default if self.choices.departments else -1)
        self.department.blockSignals(False)
        self._fill_doctors()
        self.diagnoses = []
        self.diagnosis.clear()
        self._show()

    def _department_changed(self, _: int) -> None:
        self._fill_doctors()
        self.changed.emit()

    def _fill_doctors(self) -> None:
        dept = self.department.currentData()
        self.doctor.blockSignals(True)
        self.doctor.clear()
        for code, name, dept_code, default in self.choices.doctors:
            if dept_code == dept:
                self.doctor.addItem(f"{name}" + ("（默认）" if default else ""), code)
                if default:
                    self.doctor.setCurrentIndex(self.doctor.count() - 1)
        self.doctor.blockSignals(False)

    def take_diagnosis(self) -> None:
        text = self.diagnosis.text().strip()
        if not text:
            return
        found = self._find(text)
        if not found:
            self.chosen.setText(f"疾病目录中没有“{text}”")
            return
        if found[0] not in self.diagnoses:
            self.diagnoses.append(found[0])
        self.diagnosis.clear()
        self._show()
        self.changed.emit()

    def clear_diagnoses(self) -> None:
        self.diagnoses = []
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        self.chosen.setText(
            "；".join(f"{d.code} {d.name}" for d in self.diagnoses) or "（未录入：按科室常用诊断）"
        )

    def fields(self) -> tuple[str, str, tuple[str, ...]]:
        """(department code, doctor code, diagnosis codes) for the claim request."""
        return (
            self.department.currentData() or "",
            self.doctor.currentData() or "",
            tuple(d.code for d in self.diagnoses),
        )
