"""The claim on screen: finding the person, searching the catalogue, the lines and their quantities."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from ... import labels
from ...engine.money import ZERO, fmt
from ...services import catalogue, lookup
from ...services import settlement as svc
from ...services.catalogue import CatalogueEntry
from ...services.errors import ServiceError
from ...services.self_pay import SelfPayRequest
from ..ops import Op
from ..qt import (
    QListWidgetItem,
    Qt,
    QTableWidgetItem,
)
from .settings import Line

if TYPE_CHECKING:
    pass


class ClaimMixin:
    """Part of CounterWindow (window.py); `self` is the window."""

    def on_scan(self) -> None:
        """Who was scanned: asked of the centre (1101) when the counter has one, else the registry."""
        text = self.scan.text()
        year = self.settings.visit_date().year
        centre = self.settings.centre if hasattr(self.settings.centre, "person_info") else None
        ctx = self.settings.context

        def find() -> tuple[lookup.PersonView | lookup.Choice, str, str]:
            return lookup.scan(self.db, ctx, text, year, centre), *self._year_limits()

        def found(result: tuple[lookup.PersonView | lookup.Choice, str, str]) -> None:
            view, deductible, cap = result
            if isinstance(view, lookup.Choice):
                self.choose_insurance(view, year)
                return
            self.show_found(view, deductible, cap)

        def refused(exc: Exception) -> None:
            self.show_error(exc)
            self.focus_scan()  # nothing else changes: the patient on screen, if any, stays

        Op(self, find).success(found).failure(refused).run()

    def choose_insurance(self, choice: lookup.Choice, year: int) -> None:
        from ..dialogs.insurance_choice import InsuranceChoiceDialog

        dialog = InsuranceChoiceDialog(self, choice)

        def accepted() -> None:
            index = dialog.index
            Op(
                self,
                lambda: (
                    lookup.adopt(self.db, self.settings.context, choice, index, year),
                    *self._year_limits(),
                ),
            ).success(lambda r: self.show_found(*r)).failure(
                lambda exc: (self.show_error(exc), self.focus_scan())
            ).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def show_found(self, view: lookup.PersonView, deductible: str, cap: str) -> None:
        self.reset()
        self.person = view
        self.person_panel.show_person(view, deductible, cap, now=dt.datetime.now())
        self.message.setText("")
        if not view.online and self.settings.centre is not None:  # offline: the cached person, and how old
            self.say(view.source_note(dt.datetime.now()))
        if view.out_of_area:
            self.say(f"异地参保人（参保地 {view.insuplc_admdvs}）：由医保中心按参保地政策联网结算")
        self.focus_search()
        if self.kind == "inpatient":
            self.load_stay()

    def _year_limits(self) -> tuple[str, str]:
        limits = svc.pool_limits(self.db, self.settings.context.institution_code, self.settings.visit_date())
        return (fmt(limits[0]), fmt(limits[1])) if limits else ("—", "—")

    # ----- claim

    def on_search_text(self, text: str) -> None:
        def found(entries: list[CatalogueEntry]) -> None:
            if self.search.text() != text:
                return  # typed on since: a newer search is on its way
            self.matches = entries
            self.match_list.clear()
            if text.strip() and not entries:  # say so, replacing whatever the line said before
                self.show_error(
                    ServiceError(f"目录中没有与“{text.strip()[:20]}”匹配的项目，请换编码、名称或拼音首字母")
                )
            elif self.message.text().startswith("目录中没有"):
                self.message.setText("")
            for e in entries:
                ratio = f" 先付{e.prepay_ratio * 100:.0f}%" if e.cls == "B" else ""
                QListWidgetItem(
                    f"{e.code}  {e.name}  {labels.CLASS[e.cls]}{ratio}  {fmt(e.price)}/{e.unit}",
                    self.match_list,
                )
            if entries:
                self.match_list.setCurrentRow(0)

        Op(self, lambda: catalogue.search(self.db, text)).success(found).run()

    def add_current_match(self) -> None:
        row = self.match_list.currentRow()
        self_pay = self.self_pay.isChecked() and self.kind != "inpatient"
        if (self.person is None and not self_pay) or not 0 <= row < len(self.matches):
            return
        quantity = Decimal(str(self.quantity.value())).quantize(Decimal("0.01"))
        entry = self.matches[row]
        if self.kind == "inpatient":  # a fee posted to the stay, kept in the store at once
            self.search.clear()
            self.match_list.clear()
            self.quantity.setValue(1)
            self._post_fee(entry.code, quantity)
            return
        for line in self.lines:
            if line.entry.code == entry.code:
                line.quantity += quantity
                break
        else:
            self.lines.append(Line(entry, quantity))
        self.search.clear()
        self.match_list.clear()
        self.quantity.setValue(1)
        self.claim_changed()

    def edit_quantity(self) -> None:
        """F6: the quantity of the selected line (the last if none is selected) goes to the quantity
        field; Enter there applies it. The inpatient counter posts the difference as a fee line."""
        if not self.lines:
            return
        row = (
            self.table.currentRow() if 0 <= self.table.currentRow() < len(self.lines) else len(self.lines) - 1
        )
        self.table.selectRow(row)
        self.editing_row = row
        self.quantity.setValue(float(self.lines[row].quantity))
        self.quantity.setFocus()
        self.quantity.selectAll()
        self.say(f"修改第 {row + 1} 行 {self.lines[row].entry.name} 的数量，回车确认")

    def apply_quantity(self) -> None:
        row, self.editing_row = getattr(self, "editing_row", None), None
        if row is None or not 0 <= row < len(self.lines):
            return
        line = self.lines[row]
        quantity = Decimal(str(self.quantity.value())).quantize(Decimal("0.01"))
        self.quantity.setValue(1)
        self.message.setText("")
        if quantity != line.quantity:
            if self.kind == "inpatient":  # the stay's fees live in the store: post the difference
                self._post_fee(line.entry.code, quantity - line.quantity)
            else:
                line.quantity = quantity
                self.claim_changed()
        self.table.clearSelection()  # the highlight goes with the edit, not left on the row
        self.table.setCurrentCell(-1, -1)
        self.focus_search()

    def remove_line(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.lines):
            if self.kind == "inpatient":  # posted fees are never deleted: a negative line corrects them
                self._post_fee(self.lines[row].entry.code, -self.lines[row].quantity)
                return
            del self.lines[row]
            self.claim_changed()

    def claim_changed(self) -> None:
        """Any change to the claim voids the preview: the patient must see the new split."""
        self._render_lines()
        self.shown = None
        self.preview_panel.show_preview(None, {})

    def _render_lines(self) -> None:
        self.table.setRowCount(len(self.lines))
        for n, line in enumerate(self.lines):
            e = line.entry
            for col, text in enumerate(
                (
                    e.code,
                    e.name,
                    labels.CLASS[e.cls],
                    fmt(e.price),
                    str(line.quantity),
                    fmt(line.amount),
                    line.centre_note,
                )
            ):
                item = QTableWidgetItem(text)
                if 3 <= col <= 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(n, col, item)
        self.total.setText(f"合计 {fmt(sum((line.amount for line in self.lines), ZERO))}")

    def self_pay_request(self) -> SelfPayRequest:
        return SelfPayRequest(
            tuple(svc.ClaimLine(line.entry.code, line.quantity) for line in self.lines),
            self.settings.visit_date(),
            person_id=self.person.id if self.person is not None else None,
            name=self.payer.text(),
            med_type=self.med_type.currentData(),
        )

    def request(self) -> svc.ClaimRequest:
        assert self.person is not None
        dept_code, doctor_code, diagnoses = self.visit_panel.fields()
        return svc.ClaimRequest(
            self.person.id,
            tuple(svc.ClaimLine(line.entry.code, line.quantity) for line in self.lines),
            self.settings.visit_date(),
            med_type=self.med_type.currentData(),
            prescribing_level=self.prescribing.currentData() if self.med_type.currentData() == "41" else None,
            use_own_account=self.use_own.isChecked(),
            use_family_account=self.use_family.isChecked(),
            cert_type=self.person.cert_type,
            cert_no=self.person.cert_no,
            dept_code=dept_code,
            doctor_code=doctor_code,
            diagnoses=diagnoses,
        )

    def _provider_names(self) -> dict[str, str]:
        return {p.psn_no: p.name for p in self.person.providers} if self.person else {}

    # ----- preview and settle
