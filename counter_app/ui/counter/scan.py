"""The scan field: who is at the counter, asked of the centre (1101) when the counter has one, else
of the registry; a person insured twice chooses which insurance pays (a dialog)."""

from __future__ import annotations

from ...engine.money import fmt
from ...services import lookup
from ...services import settlement as svc
from ..qt import QHBoxLayout, QLabel, QLineEdit, QWidget, Signal, named
from .desk import Desk


class ScanBar(QWidget):
    """Emits `found(person, deductible, cap)` once the person is known; a refusal is said and the
    patient on screen, if any, stays."""

    found = Signal(object, str, str)

    def __init__(self, desk: Desk) -> None:
        super().__init__()
        self.desk = desk
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("扫码 / 证件号"))
        self.field = named(QLineEdit(), "scan")
        self.field.setPlaceholderText("扫描医保电子凭证、社保卡，或输入身份证号后回车")
        self.field.returnPressed.connect(self.on_scan)
        row.addWidget(self.field, 1)

    def focus(self) -> None:
        self.field.setFocus()
        self.field.selectAll()

    def on_scan(self) -> None:
        desk, text = self.desk, self.field.text()
        year = desk.settings.visit_date().year
        centre = desk.settings.centre
        ctx = desk.settings.context

        def find() -> tuple[lookup.PersonView | lookup.Choice, str, str]:
            return lookup.scan(desk.db, ctx, text, year, centre), *self._year_limits()

        def found(result: tuple[lookup.PersonView | lookup.Choice, str, str]) -> None:
            view, deductible, cap = result
            if isinstance(view, lookup.Choice):
                self._choose_insurance(view, year)
                return
            self.found.emit(view, deductible, cap)

        def refused(exc: Exception) -> None:
            desk.show_error(exc)
            self.focus()

        desk.run(find).success(found).failure(refused).run()

    def _choose_insurance(self, choice: lookup.Choice, year: int) -> None:
        from ..dialogs.insurance_choice import InsuranceChoiceDialog

        desk = self.desk
        dialog = InsuranceChoiceDialog(desk.window, choice)

        def accepted() -> None:
            index, ctx = dialog.index, desk.settings.context

            def refused(exc: Exception) -> None:
                desk.show_error(exc)
                self.focus()

            desk.run(lambda: (lookup.adopt(desk.db, ctx, choice, index, year), *self._year_limits())).success(
                lambda r: self.found.emit(*r)
            ).failure(refused).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)

    def _year_limits(self) -> tuple[str, str]:
        """The year's deductible and cap at this institution, as shown beside the person."""
        settings = self.desk.settings
        limits = svc.pool_limits(self.desk.db, settings.context.institution_code, settings.visit_date())
        return (fmt(limits[0]), fmt(limits[1])) if limits else ("—", "—")
