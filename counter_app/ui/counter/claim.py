"""The claim on screen: whose it is, the catalogue search, the lines and their quantities, the
visit's options (medical type, outside prescription, accounts, self-pay) and its clinical facts."""

from __future__ import annotations

from decimal import Decimal

from ... import labels
from ...engine.money import ZERO, fmt
from ...services import catalogue, clinical, lookup
from ...services import settlement as svc
from ...services.catalogue import CatalogueEntry
from ...services.errors import ServiceError
from ...services.self_pay import SelfPayRequest
from ..qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QEvent,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QObject,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    Signal,
    named,
)
from .desk import Desk
from .settings import COUNTER_MED_TYPES, PRESCRIBING_LEVELS, Line
from .visit_panel import VisitPanel
from .widgets import label as _label


class ClaimPanel(QGroupBox):
    """收费项目. Owns the claim being built; says `changed` whenever it changes (the preview the
    patient saw is void then). On the inpatient counter the lines are the stay's fees, kept in the
    store: a line added, changed or removed is asked for as `fee(code, quantity)`, posted by the
    stay, and shown again with `show_lines`."""

    changed = Signal()
    fee = Signal(str, object)  # inpatient: post this quantity (a Decimal, negative corrects) of the code

    def __init__(self, desk: Desk, visit_choices: clinical.Choices) -> None:
        super().__init__("收费项目")
        self.desk, self.kind = desk, desk.kind
        self.person: lookup.PersonView | None = None
        self.lines: list[Line] = []
        self.matches: list[CatalogueEntry] = []
        self.editing_row: int | None = None
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 4, 8, 4)
        box.setSpacing(4)
        box.addLayout(self._search_row())
        self.match_list = named(QListWidget(), "matches")
        self.match_list.setMaximumHeight(110)
        self.match_list.setMinimumHeight(48)  # a few matches show; the list scrolls, the window does not
        self.match_list.itemActivated.connect(lambda _: self.add_current_match())
        box.addWidget(self.match_list)
        self.table = named(QTableWidget(0, 7), "claim_lines")
        self.table.setMinimumHeight(60)
        self.table.setHorizontalHeaderLabels(["编码", "名称", "类别", "单价", "数量", "金额", "医保中心分类"])
        self.table.setColumnHidden(6, self.kind != "inpatient")
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        box.addWidget(self.table)
        box.addLayout(self._options_row())
        db = desk.db
        self.visit_panel = VisitPanel(visit_choices, lambda text: clinical.find_diseases(db, text))
        self.visit_panel.changed.connect(self.claim_changed)
        self.visit_panel.setVisible(self.kind != "pharmacy")
        box.addWidget(self.visit_panel)

    def _search_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("项目"))
        self.search = named(QLineEdit(), "search")
        self.search.setPlaceholderText("编码、名称或拼音首字母")
        self.search.textEdited.connect(self.on_search_text)
        self.search.returnPressed.connect(self.add_current_match)
        self.search.installEventFilter(self)
        row.addWidget(self.search, 1)
        row.addWidget(QLabel("数量"))
        self.quantity = named(QDoubleSpinBox(), "quantity")
        self.quantity.setDecimals(2)
        self.quantity.setRange(0.01, 9999)
        self.quantity.setValue(1)
        row.addWidget(self.quantity)
        self.quantity.lineEdit().returnPressed.connect(self.apply_quantity)  # F6, then Enter
        return row

    def _options_row(self) -> QHBoxLayout:
        options = QHBoxLayout()
        options.addWidget(QLabel("医疗类别"))
        self.med_type = named(QComboBox(), "med_type")
        for code in COUNTER_MED_TYPES[self.kind]:
            self.med_type.addItem(f"{code} {labels.MED_TYPE[code]}", code)
        self.med_type.currentIndexChanged.connect(self.claim_changed)
        options.addWidget(self.med_type)
        self.prescribing = named(QComboBox(), "prescribing_level")  # WH-14, WH-23: outside prescriptions
        for level, name in PRESCRIBING_LEVELS:
            self.prescribing.addItem(name, level)
        self.prescribing.currentIndexChanged.connect(self.claim_changed)
        self.prescribing.setVisible(self.kind == "pharmacy")
        options.addWidget(self.prescribing)
        self.level = _label(name="institution_level")
        options.addWidget(self.level)
        self.use_own = named(QCheckBox("使用个人账户"), "use_own")
        self.use_family = named(QCheckBox("使用家庭共济账户"), "use_family")
        for box in (self.use_own, self.use_family):
            box.setChecked(True)
            box.toggled.connect(self.claim_changed)
            options.addWidget(box)
        self.self_pay = named(QCheckBox("自费（不用医保）"), "self_pay")  # nothing goes to the centre
        self.self_pay.setVisible(self.kind != "inpatient")
        self.self_pay.toggled.connect(self._self_pay_toggled)
        options.addWidget(self.self_pay)
        self.payer = named(QLineEdit(), "payer_name")  # a self-pay patient the registry does not hold
        self.payer.setPlaceholderText("自费患者姓名")
        self.payer.setMaximumWidth(120)
        self.payer.setVisible(False)
        self.payer.textEdited.connect(lambda _: self.claim_changed())
        options.addWidget(self.payer)
        self.interim = named(QCheckBox("中途结算（不出院）"), "interim")  # mid_setl_flag 1: long stays
        self.interim.setVisible(self.kind == "inpatient")
        self.interim.toggled.connect(self.claim_changed)
        options.addWidget(self.interim)
        options.addStretch(1)
        self.total = _label(name="claim_total")
        options.addWidget(self.total)
        return options

    # ----- whose claim

    def reset(self, person: lookup.PersonView | None = None) -> None:
        """A new claim, for `person` (None: nobody on screen)."""
        self.person, self.lines, self.editing_row = person, [], None
        self.table.setRowCount(0)
        self.match_list.clear()
        self.search.clear()
        for widget in (self.med_type, self.prescribing, self.visit_panel, self.self_pay, self.payer):
            widget.blockSignals(True)  # one `changed` for the whole reset, not one per field
        self.use_own.setChecked(True)
        self.use_family.setChecked(True)
        self.med_type.setCurrentIndex(0)
        self.prescribing.setCurrentIndex(0)
        self.self_pay.setChecked(False)
        self._self_pay_toggled(False, quiet=True)
        self.payer.clear()
        self.visit_panel.reset()
        for widget in (self.med_type, self.prescribing, self.visit_panel, self.self_pay, self.payer):
            widget.blockSignals(False)
        self.total.setText("合计 0.00")

    @property
    def self_paying(self) -> bool:
        """自费 is ticked (never on the inpatient counter)."""
        return self.self_pay.isChecked() and self.kind != "inpatient"

    def focus(self) -> None:
        if self.person is not None:
            self.search.setFocus()
            self.search.selectAll()

    def _self_pay_toggled(self, on: bool, *, quiet: bool = False) -> None:
        """自费: the accounts and the visit's insurance facts do not apply; without a patient on
        screen the cashier types the payer's name."""
        for widget in (self.use_own, self.use_family, self.visit_panel):
            widget.setEnabled(not on)
        self.payer.setVisible(on and self.person is None)
        if on and self.person is None:
            self.payer.setFocus()
        if not quiet:
            self.claim_changed()

    # ----- the catalogue and the lines

    def on_search_text(self, text: str) -> None:
        desk = self.desk

        def found(entries: list[CatalogueEntry]) -> None:
            if self.search.text() != text:
                return  # typed on since: a newer search is on its way
            self.matches = entries
            self.match_list.clear()
            if text.strip() and not entries:  # say so, replacing whatever the line said before
                desk.refuse(f"目录中没有与“{text.strip()[:20]}”匹配的项目，请换编码、名称或拼音首字母")
            elif desk.message.text().startswith("目录中没有"):
                desk.message.setText("")
            for e in entries:
                ratio = f" 先付{e.prepay_ratio * 100:.0f}%" if e.cls == "B" else ""
                QListWidgetItem(
                    f"{e.code}  {e.name}  {labels.CLASS[e.cls]}{ratio}  {fmt(e.price)}/{e.unit}",
                    self.match_list,
                )
            if entries:
                self.match_list.setCurrentRow(0)

        desk.run(lambda: catalogue.search(desk.db, text)).success(found).run()

    def add_current_match(self) -> None:
        row = self.match_list.currentRow()
        if (self.person is None and not self.self_paying) or not 0 <= row < len(self.matches):
            return
        quantity = Decimal(str(self.quantity.value())).quantize(Decimal("0.01"))
        entry = self.matches[row]
        self.search.clear()
        self.match_list.clear()
        self.quantity.setValue(1)
        if self.kind == "inpatient":  # a fee posted to the stay, kept in the store at once
            self.fee.emit(entry.code, quantity)
            return
        for line in self.lines:
            if line.entry.code == entry.code:
                line.quantity += quantity
                break
        else:
            self.lines.append(Line(entry, quantity))
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
        self.desk.say(f"修改第 {row + 1} 行 {self.lines[row].entry.name} 的数量，回车确认")

    def apply_quantity(self) -> None:
        row, self.editing_row = self.editing_row, None
        if row is None or not 0 <= row < len(self.lines):
            return
        line = self.lines[row]
        quantity = Decimal(str(self.quantity.value())).quantize(Decimal("0.01"))
        self.quantity.setValue(1)
        self.desk.message.setText("")
        if quantity != line.quantity:
            if self.kind == "inpatient":  # the stay's fees live in the store: post the difference
                self.fee.emit(line.entry.code, quantity - line.quantity)
            else:
                line.quantity = quantity
                self.claim_changed()
        self.table.clearSelection()  # the highlight goes with the edit, not left on the row
        self.table.setCurrentCell(-1, -1)
        self.focus()

    def remove_line(self) -> None:
        row = self.table.currentRow()
        if 0 <= row < len(self.lines):
            if self.kind == "inpatient":  # posted fees are never deleted: a negative line corrects them
                self.fee.emit(self.lines[row].entry.code, -self.lines[row].quantity)
                return
            del self.lines[row]
            self.claim_changed()

    def remove_selected_or_last(self) -> None:
        """Del in the empty search field: the selected line, else the last."""
        if not 0 <= self.table.currentRow() < len(self.lines) and self.lines:
            self.table.selectRow(len(self.lines) - 1)
        self.remove_line()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        """Up/Down in the search field move through the matches, so hands stay on the keyboard; Del
        there with nothing typed removes the selected (else the last) line, as the key says."""
        if obj is not self.search:
            return super().eventFilter(obj, event)
        kind = event.type()
        key = getattr(event, "key", lambda: None)()
        deleting = kind in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride) and key == Qt.Key.Key_Delete
        if deleting and not self.search.text():
            if kind == QEvent.Type.KeyPress:
                self.remove_selected_or_last()
            event.accept()
            return True
        if kind == QEvent.Type.KeyPress and key in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            row = self.match_list.currentRow() + (1 if key == Qt.Key.Key_Down else -1)
            if 0 <= row < self.match_list.count():
                self.match_list.setCurrentRow(row)
            return True
        return super().eventFilter(obj, event)

    def claim_changed(self) -> None:
        """Any change to the claim voids the preview: the patient must see the new split."""
        self.show_lines(self.lines)
        self.changed.emit()

    def set_lines(self, lines: list[Line]) -> None:
        """The lines kept elsewhere (the stay's fees), as a changed claim."""
        self.lines = lines
        self.claim_changed()

    def show_lines(self, lines: list[Line]) -> None:
        """The lines on screen, without voiding anything (the centre's classes on a discharge)."""
        self.lines = lines
        self.table.setRowCount(len(lines))
        for n, line in enumerate(lines):
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
        self.total.setText(f"合计 {fmt(sum((line.amount for line in lines), ZERO))}")

    # ----- what goes to the services

    def _claim_lines(self) -> tuple[svc.ClaimLine, ...]:
        return tuple(svc.ClaimLine(line.entry.code, line.quantity) for line in self.lines)

    def self_pay_request(self) -> SelfPayRequest:
        return SelfPayRequest(
            self._claim_lines(),
            self.desk.settings.visit_date(),
            person_id=self.person.id if self.person is not None else None,
            name=self.payer.text(),
            med_type=self.med_type.currentData(),
        )

    def request(self) -> svc.ClaimRequest:
        """The insured claim; only asked for with a person on screen."""
        person = self.person
        if person is None:
            raise ServiceError("请先扫码并录入收费项目")
        dept_code, doctor_code, diagnoses = self.visit_panel.fields()
        return svc.ClaimRequest(
            person.id,
            self._claim_lines(),
            self.desk.settings.visit_date(),
            med_type=self.med_type.currentData(),
            prescribing_level=self.prescribing.currentData() if self.med_type.currentData() == "41" else None,
            use_own_account=self.use_own.isChecked(),
            use_family_account=self.use_family.isChecked(),
            cert_type=person.cert_type,
            cert_no=person.cert_no,
            dept_code=dept_code,
            doctor_code=doctor_code,
            diagnoses=diagnoses,
        )

    def provider_names(self) -> dict[str, str]:
        return {p.psn_no: p.name for p in self.person.providers} if self.person else {}
