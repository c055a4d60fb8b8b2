"""The outpatient counter: scan, build the claim, preview the split, settle, print, next patient.

Every step has a function key shown on its button; the scan field takes the focus whenever the
window is idle. The window keeps only what it displays (the person on screen, the claim lines,
the preview the patient was shown); every rule is in `services`, and every call to them runs as a
background `Op`, so the window never freezes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .. import labels
from ..engine.money import ZERO, cents, fmt
from ..printing import output
from ..services import catalogue, inpatient, lookup, settlement as svc
from ..services.catalogue import CatalogueEntry
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.shift import TENDERS, ShiftHasPending, ShiftState, close_shift, open_shift, shift_state
from ..services.staff import approve_refund
from ..services.sync_status import SyncStatus, sync_status
from ..store import Database
from . import slip_printer
from .ops import Op
from .qt import (
    QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QGridLayout,
    QGroupBox, QHBoxLayout, QHeaderView, QKeySequence, QLabel, QLineEdit, QListWidget, QListWidgetItem,
    QMainWindow, QPushButton, QShortcut, Qt, QTableWidget, QTableWidgetItem,
    QTimer, QVBoxLayout, QWidget,
)

# What each counter settles: outpatient (general, emergency, special disease, maternity) or a pharmacy.
COUNTER_MED_TYPES = {"outpatient": ("11", "13", "14", "51"), "pharmacy": ("41",), "inpatient": ("21", "52")}
COUNTER_KIND = {"pharmacy_clerk": "pharmacy", "inpatient_cashier": "inpatient"}
KEY_PERMISSIONS = {"F7": "shift", "F10": "reprint", "F11": "refund", "F12": "outbox"}
PRESCRIBING_LEVELS = ((None, "无外配处方"), (1, "一级机构处方"), (2, "二级机构处方"), (3, "三级机构处方"))


@dataclass
class Line:
    entry: CatalogueEntry
    quantity: Decimal
    centre_note: str = ""  # inpatient: how the centre classed the item's uploaded lines

    @property
    def amount(self) -> Decimal:
        return cents(self.entry.price * self.quantity)


@dataclass(frozen=True)
class CounterSettings:
    """Where this counter works and where its slips go."""

    context: Actor  # the signed-in actor: every service call carries it
    slip_dir: Path
    printer: str | None = None  # a system printer name; None keeps slips as PDF files only
    today: dt.date | None = None  # fixed visit date (tests, training); None = the real date
    sync_warn_minutes: int = 30  # a message pending longer than this turns the status bar red
    centre: Any = None  # inpatient.CentrePort: the centre online (an inpatient settlement needs it)
    centre_presettle: bool = False  # F5 also asks the centre (2206): off by default, it adds round trips

    def visit_date(self) -> dt.date:
        return self.today or dt.date.today()


def unsent_summary(waiting: list, now: dt.datetime) -> str:
    """What is not yet with the centre, for shift and day close: parked first, then the oldest."""
    if not waiting:
        return ""
    parked = [e for e in waiting if e.status == "parked"]
    pending = [e for e in waiting if e.status != "parked"]
    parts = [f"；未上传医保中心 {len(waiting)} 笔"]
    if parked:
        parts.append(f"，其中挂起 {len(parked)} 笔（请主管在上传队列处理）：" + "；".join(
            f"{e.setl_no} {e.name}（{(e.last_error or '')[:30]}）" for e in parked[:5]))
    if pending:
        oldest = pending[0]
        minutes = int(oldest.age(now).total_seconds() // 60)
        parts.append(f"；最早待传 {oldest.setl_no}，已等 {minutes} 分钟")
    return "".join(parts)


def _label(text: str = "", *, name: str | None = None, big: bool = False) -> QLabel:
    label = QLabel(text)
    if name:
        label.setObjectName(name)
    if big:
        font = label.font()
        font.setPointSize(font.pointSize() * 2 + 6)
        font.setBold(True)
        label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class PersonPanel(QGroupBox):
    def __init__(self) -> None:
        super().__init__("参保人")
        form = QFormLayout(self)
        self.fields: dict[str, QLabel] = {}
        for key, title in (("name", "姓名"), ("certno", "身份证号"), ("insutype", "险种"), ("psn_type", "人员类别"),
                           ("status", "参保状态"), ("balance", "个人账户余额"), ("deductible", "本年起付线"),
                           ("pooled", "本年门诊统筹")):
            self.fields[key] = _label(name=f"person_{key}")
            form.addRow(title + "：", self.fields[key])
        self.providers = _label(name="person_providers")
        self.providers.setWordWrap(True)
        form.addRow("共济提供人：", self.providers)

    def show_person(self, view: lookup.PersonView | None, deductible: str, cap: str) -> None:
        if view is None:
            for label in (*self.fields.values(), self.providers):
                label.setText("")
            return
        f = self.fields
        f["name"].setText(view.name)
        f["certno"].setText(view.masked_certno)
        f["insutype"].setText(labels.INSUTYPE.get(view.insutype, view.insutype))
        f["psn_type"].setText(labels.PSN_TYPE.get(view.psn_type, view.psn_type)
                              + (f"（{view.retired_on:%Y-%m-%d}退休）" if view.retired_on else ""))
        f["status"].setText(labels.STATUS.get(view.status, view.status) + ("，住院中" if view.hospitalized else ""))
        f["balance"].setText(fmt(view.balance) if view.account_open else "无个人账户")
        employee = view.insutype == "310"  # outpatient pooling is for employees only (WH-2)
        f["deductible"].setText(f"{fmt(view.deductible_paid)} / {deductible}" if employee else "不适用（非职工医保）")
        f["pooled"].setText(f"{fmt(view.outpatient_pool_paid)} / {cap}" if employee else "不适用")
        self.providers.setText("\n".join(
            f"{p.name}（{labels.RELATION[p.relation]}）余额 {fmt(p.balance)}" for p in view.providers) or "无")


class PreviewPanel(QGroupBox):
    """The split the patient is shown before confirming: who pays what, and cash in large type."""

    ROWS = (("medfee", "医疗费总额"), ("fund", "统筹基金支付"), ("prepay", "先行自付"), ("deductible", "本次起付线"),
            ("copay", "统筹共付（个人）"), ("fulamt", "全自费"), ("own", "个人账户支付"), ("mulaid", "家庭共济支付"))

    def __init__(self) -> None:
        super().__init__("预结算（请向参保人确认）")
        layout = QVBoxLayout(self)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        for n, (key, title) in enumerate(self.ROWS):
            grid.addWidget(QLabel(title), n // 2, (n % 2) * 2)
            self.values[key] = _label(name=f"preview_{key}")
            self.values[key].setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(self.values[key], n // 2, (n % 2) * 2 + 1)
        layout.addLayout(grid)
        self.family = _label(name="preview_family")
        self.family.setWordWrap(True)
        layout.addWidget(self.family)
        row = QHBoxLayout()
        row.addWidget(_label("应收现金", big=True))
        self.tender = QComboBox(objectName="tender")
        for code, name in TENDERS.items():
            self.tender.addItem(name, code)
        self.tender.setMaximumWidth(120)
        row.addWidget(self.tender)
        self.cash = _label("", name="preview_cash", big=True)
        self.cash.setAlignment(Qt.AlignmentFlag.AlignRight)
        row.addWidget(self.cash)
        layout.addLayout(row)
        self.reason = _label(name="preview_reason")
        self.reason.setWordWrap(True)
        layout.addWidget(self.reason)
        self.notice = _label(name="preview_notice")
        self.notice.setStyleSheet("color: #b00020; font-weight: bold")
        self.notice.setWordWrap(True)
        layout.addWidget(self.notice)

    def show_preview(self, pv: svc.Preview | None, provider_names: dict[str, str], notice: str = "") -> None:
        self.notice.setText(notice)
        if pv is None:
            for label in (*self.values.values(), self.family, self.cash, self.reason):
                label.setText("")
            return
        r = pv.result
        shown = {"medfee": r.medfee_sumamt, "fund": r.hifp_pay, "prepay": r.preselfpay_amt,
                 "deductible": r.act_pay_dedc, "copay": r.inscp_scp_amt - r.act_pay_dedc - r.hifp_pay,
                 "fulamt": r.fulamt_ownpay_amt, "own": r.own_acct_pay, "mulaid": r.acct_mulaid_pay}
        for key, value in shown.items():
            self.values[key].setText(fmt(value))
        self.family.setText("\n".join(
            f"家庭共济：{labels.mask_name(provider_names.get(d.psn_no, d.psn_no))}（{labels.RELATION[d.relation]}）"
            f"支付 {fmt(d.paid)}，余额 {fmt(d.balc)}" for d in r.mulaid))
        self.cash.setText(fmt(r.psn_cash_pay))
        self.reason.setText(f"{labels.pooling_title(r.pooling_reason)}："
                            + labels.pooling_reason(r.pooling_reason, r.pooling_applies))


class SettlementDialog(QDialog):
    """Pick an earlier settlement and see what it paid; for a refund, a supervisor signs in here.

    Non-modal to the application (window-modal), so the cashier's keyboard flow and the tests
    drive it the same way: type, Enter, fill in, OK.
    """

    def __init__(self, window: "CounterWindow", title: str, *, approval: bool, setl_no: str) -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(680)
        form = QFormLayout(self)
        self.setl_no = QLineEdit(setl_no, objectName="dialog_setl_no")
        self.setl_no.returnPressed.connect(self.load)
        form.addRow("结算单号", self.setl_no)
        self.summary = _label(name="dialog_summary")
        self.summary.setWordWrap(True)
        self.summary.setMinimumWidth(420)
        form.addRow("内容" if not approval else "将撤销", self.summary)
        self.reason = QLineEdit(objectName="refund_reason")
        self.staff_no = QLineEdit(objectName="approver_no")
        self.password = QLineEdit(objectName="approver_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        if approval:
            form.addRow("退费原因", self.reason)
            form.addRow("主管工号", self.staff_no)
            form.addRow("主管密码", self.password)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        """Show what the settlement paid (a refund reverses exactly this)."""
        setl_no = self.setl_no.text().strip()
        if not setl_no:
            return

        def describe() -> str:
            from ..printing.slip import load_slip

            slip = load_slip(self.window_.db, setl_no, copy=1)
            amounts = dict(slip.amounts)
            family = "；".join(f"{p.masked_name}（{p.relation}）{fmt(p.paid)}" for p in slip.providers) or "无"
            return (f"{slip.title} {slip.patient_name} {slip.settled_at:%Y-%m-%d %H:%M}\n"
                    f"医疗费 {fmt(amounts['医疗费总额'])}，统筹基金 {fmt(amounts['统筹基金支付'])}，"
                    f"个人账户 {fmt(slip.own_paid)}，家庭共济 {family}，现金 {fmt(slip.cash)}")

        Op(self.window_, describe).success(self.summary.setText).failure(
            lambda e: self.summary.setText(str(e))).run()


def _money_text(text: str, field: str) -> Decimal:
    """Money typed by the cashier, checked by the one money parser (two decimals, not negative)."""
    from ..engine.money import MoneyError, parse_money

    try:
        return parse_money(text.strip())
    except MoneyError as exc:
        raise ServiceError(f"{field}：{exc}") from None


class OpenShiftDialog(QDialog):
    """No money is taken before the shift is opened with the drawer's cash float."""

    def __init__(self, window: "CounterWindow") -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("开班")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        form.addRow(_label(f"{window.user.name}，请清点备用金后开班（{window.settings.context.counter}）"))
        self.opening_float = QLineEdit("0.00", objectName="opening_float")
        form.addRow("备用金", self.opening_float)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.opening_float.setFocus()
        self.opening_float.selectAll()


class DayCloseDialog(QDialog):
    def __init__(self, window: "CounterWindow") -> None:
        super().__init__(window)
        self.setWindowTitle("日结")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        form.addRow(_label("日结后当日不能再结算，之后的结算计入次日"))
        self.day = QLineEdit(window.settings.visit_date().isoformat(), objectName="close_day")
        form.addRow("营业日", self.day)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.day.setFocus()


class AdmitDialog(QDialog):
    """Admission: the deposit (押金) taken and receipted."""

    def __init__(self, window: "CounterWindow") -> None:
        super().__init__(window)
        self.setWindowTitle(f"办理入院 — {window.person.name}")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        self.deposit = QLineEdit("0.00", objectName="deposit")
        form.addRow("押金", self.deposit)
        self.tender = QComboBox(objectName="deposit_tender")
        for code, name in TENDERS.items():
            self.tender.addItem(name, code)
        form.addRow("支付方式", self.tender)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.deposit.setFocus()
        self.deposit.selectAll()


class CloseShiftDialog(QDialog):
    """Count the drawer against what the shift's settlements, refunds and deposits say."""

    def __init__(self, window: "CounterWindow") -> None:
        super().__init__(window)
        self.window_ = window
        self.state: ShiftState | None = None
        self.setWindowTitle("交班")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(620)
        form = QFormLayout(self)
        self.summary = _label(name="shift_summary")
        self.summary.setWordWrap(True)
        form.addRow("本班合计", self.summary)
        self.expected = _label(name="shift_expected", big=True)
        self.expected.setMinimumHeight(self.expected.fontMetrics().height() + 12)  # large type, not clipped
        form.addRow("应有现金", self.expected)
        self.pending = _label(name="shift_pending")
        self.pending.setWordWrap(True)
        self.pending.setStyleSheet("color: #b00020")
        form.addRow(self.pending)
        self.acknowledge = QCheckBox("已知晓以上未上传报文，仍然交班", objectName="shift_acknowledge")
        self.acknowledge.hide()
        form.addRow(self.acknowledge)
        self.counted = QLineEdit(objectName="counted_cash")
        form.addRow("实点现金", self.counted)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        def show(state: ShiftState | None) -> None:
            if state is None:
                self.summary.setText("当前没有未交班的班次")
                return
            self.state = state
            t = state.totals
            tenders = "，".join(f"{TENDERS.get(k, k)} {fmt(v)}" for k, v in sorted(t.cash_by_tender.items())) or "无"
            self.summary.setText(
                f"结算 {t.settlements} 笔，退费 {t.refunds} 笔；医疗费 {fmt(t.medfee)}，统筹 {fmt(t.fund)}，"
                f"个人账户 {fmt(t.own_accounts)}，家庭共济 {fmt(t.family_accounts)}；个人现金部分：{tenders}；"
                f"备用金 {fmt(state.opening_float)}" + ("" if t.ties_to_ledger else "；账户合计与流水不一致！"))
            self.expected.setText(fmt(state.expected_cash))
            if state.unsent:
                self.pending.setText(f"还有 {len(state.unsent)} 笔未上传医保中心：" + "；".join(
                    f"{e.setl_no} {e.name}（{'挂起' if e.status == 'parked' else '待传'}）" for e in state.unsent[:8])
                    + ("…" if len(state.unsent) > 8 else ""))
                self.acknowledge.show()
            self.counted.setFocus()

        Op(self.window_, lambda: shift_state(self.window_.db, self.window_.settings.context)).success(show).run()


class OutboxDialog(QDialog):
    """The supervisor's view of what has not reached the centre: pending and parked messages,
    with the centre's reason, and a button to send a parked one again once it is put right."""

    def __init__(self, window: "CounterWindow") -> None:
        super().__init__(window)
        self.window_ = window
        self.setWindowTitle("上传队列（未上传与挂起的报文）")
        self.setMinimumSize(900, 480)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 7, objectName="outbox_table")
        self.table.setHorizontalHeaderLabels(["状态", "交易", "结算单号", "参保人", "尝试次数", "原因", "报文号"])
        self.table.horizontalHeader().setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        self.message = _label(name="outbox_message")
        self.message.setStyleSheet("color: #b00020")
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.release_button = QPushButton("重新发送所选挂起报文", objectName="outbox_release")
        self.release_button.clicked.connect(self.release_selected)
        row.addWidget(self.release_button)
        self.void_button = QPushButton("作废所选挂起报文", objectName="outbox_void")
        self.void_button.clicked.connect(self.void_selected)
        row.addWidget(self.void_button)
        self.reason = QLineEdit(objectName="outbox_reason", placeholderText="原因（必填，记入审计日志）")
        row.addWidget(self.reason, 1)
        row.addStretch(1)
        close = QPushButton("关闭")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        layout.addLayout(row)
        layout.addWidget(_label("医保中心结算结果与本地不同（本地结算不变，核对后标记）"))
        self.differences = QTableWidget(0, 4, objectName="centre_differences")
        self.differences.setHorizontalHeaderLabels(["结算单号", "参保人", "结算时间", "差异（本地 → 中心）"])
        self.differences.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.differences.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.differences.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.differences)
        self.review_button = QPushButton("标记所选差异已核对（原因填在上方）", objectName="centre_review")
        self.review_button.clicked.connect(self.review_selected)
        layout.addWidget(self.review_button)
        self.entries: list = []
        self.found: list = []

    def load(self) -> None:
        from ..services.sync_status import unsent

        def show(entries: list) -> None:
            self.entries = entries
            self.table.setRowCount(len(entries))
            for n, e in enumerate(entries):
                for col, text in enumerate(("挂起" if e.status == "parked" else "待传",
                                            f"{labels.INFNO.get(e.infno, e.infno)}（{e.infno}）", e.setl_no,
                                            e.name, str(e.attempts), e.last_error or "", e.msgid)):
                    self.table.setItem(n, col, QTableWidgetItem(text))

        Op(self.window_, lambda: unsent(self.window_.db)).success(show).run()
        if self.window_.user.may("outbox"):
            self.load_differences()

    def load_differences(self) -> None:
        from ..services.sync_status import centre_differences

        def show(found: list) -> None:
            self.found = found
            self.differences.setRowCount(len(found))
            for n, d in enumerate(found):
                what = "，".join(f"{labels.AMOUNT_NAMES.get(k, k)} {a} → {b}" for k, (a, b) in d.differences.items())
                for col, text in enumerate((d.setl_no, d.name, f"{d.settled_at:%m-%d %H:%M}", what)):
                    self.differences.setItem(n, col, QTableWidgetItem(text))

        window = self.window_
        Op(window, lambda: centre_differences(window.db, window.settings.context)).success(show).run()

    def review_selected(self) -> None:
        from ..services.sync_status import review_difference

        row = self.differences.currentRow()
        if not 0 <= row < len(self.found):
            self.message.setText("标记已核对：请先选择一条差异")
            return
        setl_no, note, window = self.found[row].setl_no, self.reason.text(), self.window_
        Op(window, lambda: review_difference(window.db, window.settings.context, setl_no, note)) \
            .success(self._done).failure(self._failed).run()

    def _decide(self, title: str, decision) -> None:  # noqa: ANN001
        """Resend or void the selected parked message with the reason typed; the service checks
        the permission and audits it."""
        row = self.table.currentRow()
        if not 0 <= row < len(self.entries) or self.entries[row].status != "parked":
            self.message.setText(f"{title}：请先选择一条挂起的报文")
            return
        msgid, reason, window = self.entries[row].msgid, self.reason.text(), self.window_
        Op(window, lambda: decision(window.db, window.settings.context, msgid, reason)) \
            .success(self._done).failure(self._failed).run()

    def release_selected(self) -> None:
        from ..services.sync_status import release

        self._decide("重新发送", release)

    def void_selected(self) -> None:
        from ..services.sync_status import void

        self._decide("作废报文", void)

    def _done(self, _: object) -> None:
        self.message.setText("")
        self.reason.clear()
        self.load()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(str(exc))


class CounterWindow(QMainWindow):
    def __init__(self, db: Database, user: Actor, settings: CounterSettings) -> None:
        super().__init__()
        self.db, self.user, self.settings = db, user, settings
        self.person: lookup.PersonView | None = None
        self.lines: list[Line] = []
        self.shown: svc.Preview | None = None  # the preview the patient saw, for confirm
        self.matches: list[CatalogueEntry] = []
        self.last_setl_no: str | None = None
        self.last_slip: Path | None = None
        self.last_shift_report: Path | None = None
        self.shift: ShiftState | None = None
        self.stay: inpatient.Stay | None = None  # the inpatient counter's open stay for the person
        self.discharge: inpatient.DischargePreview | None = None
        self.errors: list[str] = []  # every message shown, newest last (tests read it)
        self.busy = False
        kind = {"pharmacy_clerk": "药店", "inpatient_cashier": "住院"}.get(user.role, "门诊")
        self.setWindowTitle(f"医保{kind}收费 — {settings.context.institution_code} {settings.context.counter}")
        self._build()
        self._shortcuts()
        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start(5000)
        self.refresh_status()
        Op(self, lambda: svc.institution_label(db, settings.context.institution_code)).success(
            lambda info: self.level.setText(f"{info[0]}（{labels.LEVEL[info[1]]}，{info[2]}）")).run()
        self.reset()
        self.check_shift()

    # ----- layout
    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        scan_row = QHBoxLayout()
        scan_row.addWidget(QLabel("扫码 / 证件号"))
        self.scan = QLineEdit(objectName="scan")
        self.scan.setPlaceholderText("扫描医保电子凭证、社保卡，或输入身份证号后回车")
        self.scan.returnPressed.connect(self.on_scan)
        scan_row.addWidget(self.scan, 1)
        self.message = _label(name="message")
        self.message.setStyleSheet("color: #b00020")
        outer.addLayout(scan_row)
        outer.addWidget(self.message)

        body = QHBoxLayout()
        self.person_panel = PersonPanel()
        body.addWidget(self.person_panel, 2)
        right = QVBoxLayout()
        claim_box = QGroupBox("收费项目")
        claim = QVBoxLayout(claim_box)
        search_row = QHBoxLayout()
        search_row.addWidget(QLabel("项目"))
        self.search = QLineEdit(objectName="search")
        self.search.setPlaceholderText("编码、名称或拼音首字母")
        self.search.textEdited.connect(self.on_search_text)
        self.search.returnPressed.connect(self.add_current_match)
        self.search.installEventFilter(self)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(QLabel("数量"))
        self.quantity = QDoubleSpinBox(objectName="quantity")
        self.quantity.setDecimals(2)
        self.quantity.setRange(0.01, 9999)
        self.quantity.setValue(1)
        search_row.addWidget(self.quantity)
        claim.addLayout(search_row)
        self.match_list = QListWidget(objectName="matches")
        self.match_list.setMaximumHeight(110)
        self.match_list.itemActivated.connect(lambda _: self.add_current_match())
        claim.addWidget(self.match_list)
        self.table = QTableWidget(0, 7, objectName="claim_lines")
        self.table.setHorizontalHeaderLabels(["编码", "名称", "类别", "单价", "数量", "金额", "医保中心分类"])
        self.table.setColumnHidden(6, COUNTER_KIND.get(self.user.role) != "inpatient")
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        claim.addWidget(self.table)
        options = QHBoxLayout()
        options.addWidget(QLabel("医疗类别"))
        self.med_type = QComboBox(objectName="med_type")
        self.kind = COUNTER_KIND.get(self.user.role, "outpatient")
        for code in COUNTER_MED_TYPES[self.kind]:
            self.med_type.addItem(f"{code} {labels.MED_TYPE[code]}", code)
        self.med_type.currentIndexChanged.connect(self.claim_changed)
        options.addWidget(self.med_type)
        self.prescribing = QComboBox(objectName="prescribing_level")  # WH-14, WH-23: outside prescriptions
        for level, name in PRESCRIBING_LEVELS:
            self.prescribing.addItem(name, level)
        self.prescribing.currentIndexChanged.connect(self.claim_changed)
        self.prescribing.setVisible(self.kind == "pharmacy")
        options.addWidget(self.prescribing)
        self.level = _label(name="institution_level")
        options.addWidget(self.level)
        self.use_own = QCheckBox("使用个人账户", objectName="use_own")
        self.use_family = QCheckBox("使用家庭共济账户", objectName="use_family")
        for box in (self.use_own, self.use_family):
            box.setChecked(True)
            box.toggled.connect(self.claim_changed)
            options.addWidget(box)
        self.interim = QCheckBox("中途结算（不出院）", objectName="interim")  # mid_setl_flag 1: long stays
        self.interim.setVisible(self.kind == "inpatient")
        self.interim.toggled.connect(self.claim_changed)
        options.addWidget(self.interim)
        options.addStretch(1)
        self.total = _label(name="claim_total")
        options.addWidget(self.total)
        claim.addLayout(options)
        right.addWidget(claim_box, 3)
        self.preview_panel = PreviewPanel()
        right.addWidget(self.preview_panel, 2)
        body.addLayout(right, 5)
        outer.addLayout(body, 1)

        keys = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        admit = (("F4", "入院", self.admit),) if self.kind == "inpatient" else ()
        for key, title, slot in (("F2", "扫码", self.focus_scan), ("F3", "项目", self.focus_search), *admit,
                                 ("Del", "删除行", self.remove_line), ("F5", "预结算", self.preview),
                                 ("F7", "交班", self.close_shift),
                                 ("F9", "确认结算", self.confirm), ("F10", "补打", self.reprint),
                                 ("F11", "退费", self.refund), ("F12", "上传队列", self.outbox),
                                 ("Esc", "取消", self.reset)):
            button = QPushButton(f"{title} [{key}]", objectName=f"button_{key}")
            button.clicked.connect(slot)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            keys.addWidget(button)
            self.buttons[key] = button
        for key, permission in KEY_PERMISSIONS.items():  # the window mirrors roles.toml; the services decide
            if key in self.buttons and not self.user.may(permission):
                self.buttons[key].setEnabled(False)
                self.buttons[key].setToolTip(f"{self.user.role_name}无此权限")
        outer.addLayout(keys)
        self.setCentralWidget(central)
        self._menu()
        self.status_db = QLabel(f"数据库：{self.db.describe()}")
        self.status_user = QLabel(f"{self.user.name}（{self.user.role_name}）")
        self.status_sync = QLabel("上传：—", objectName="status_sync")
        self.status_busy = QLabel("", objectName="status_busy")
        for widget in (self.status_db, self.status_user, self.status_sync, self.status_busy):
            self.statusBar().addPermanentWidget(widget)
        self.resize(1180, 760)

    def _menu(self) -> None:
        """功能 menu: what this role may open besides the counter itself."""
        menu = self.menuBar().addMenu("功能")
        entries = [("交班 (F7)", self.close_shift, self.user.may("shift")),
                   ("家庭共济绑定 (Ctrl+B)", self.binding_desk, self.user.may("bind")),
                   ("日结", self.close_day, self.user.may("day_close")),
                   ("经办业务（划入、计息、申报、监测）", self.agency_desk, self.user.may("batch")),
                   ("上传队列 (F12)", self.outbox, self.user.may("outbox"))]
        self.menu_actions = {}
        for title, slot, allowed in entries:
            if allowed:
                self.menu_actions[title] = menu.addAction(title, slot)
        if self.user.may("bind"):
            shortcut = QShortcut(QKeySequence("Ctrl+B"), self)
            shortcut.activated.connect(self.binding_desk)

    def binding_desk(self) -> None:
        from .binding_desk import BindingDesk

        if not self.user.may("bind"):
            self.show_error(ServiceError(f"{self.user.role_name}无家庭共济绑定权限"))
            return
        desk = BindingDesk(self)
        self.dialog = desk
        desk.finished.connect(self._dialog_closed)
        desk.open()

    def agency_desk(self) -> None:
        from .agency_desk import AgencyDesk

        desk = AgencyDesk(self)
        self.dialog = desk
        desk.finished.connect(self._dialog_closed)
        desk.open()

    def close_day(self) -> None:
        from ..services.shift import close_day
        from ..services.sync_status import unsent

        dialog = DayCloseDialog(self)

        def accepted() -> None:
            text = dialog.day.text().strip()

            def run():  # noqa: ANN202
                try:
                    day = dt.date.fromisoformat(text)
                except ValueError:
                    raise ServiceError(f"日期应为 YYYY-MM-DD：{text}") from None
                return day, close_day(self.db, self.settings.context, day), unsent(self.db)

            def done(result) -> None:  # noqa: ANN001
                day, t, waiting = result
                self.say(f"{day} 已日结：结算 {t.settlements} 笔，退费 {t.refunds} 笔，医疗费 {fmt(t.medfee)}，"
                         f"统筹 {fmt(t.fund)}，个人账户 {fmt(t.own_accounts)}，家庭共济 {fmt(t.family_accounts)}"
                         + unsent_summary(waiting, dt.datetime.now()))

            Op(self, run).success(done).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def _shortcuts(self) -> None:
        for key, slot in (("F2", self.focus_scan), ("F3", self.focus_search), ("F5", self.preview),
                          ("F7", self.close_shift), ("F4", self.admit),
                          ("F9", self.confirm), ("F10", self.reprint), ("F11", self.refund), ("F12", self.outbox),
                          ("Esc", self.reset),
                          ("Del", self.remove_line)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 - Qt's name
        """Up/Down in the search field move through the matches, so hands stay on the keyboard."""
        if obj is self.search and event.type() == event.Type.KeyPress and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            row = self.match_list.currentRow() + (1 if event.key() == Qt.Key.Key_Down else -1)
            if 0 <= row < self.match_list.count():
                self.match_list.setCurrentRow(row)
            return True
        return super().eventFilter(obj, event)

    # ----- state shown
    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.status_busy.setText("处理中…" if busy else "")

    def show_error(self, exc: Exception) -> None:
        known = isinstance(exc, (ServiceError, ValueError, LookupError, slip_printer.PrinterError))
        text = str(exc) if known else f"系统错误：{exc}"
        self.errors.append(text)
        self.message.setStyleSheet("color: #b00020")
        self.message.setText(text)

    def say(self, text: str) -> None:
        self.message.setStyleSheet("color: #1b5e20")
        self.message.setText(text)

    def reset(self) -> None:
        """Esc: drop the patient on screen and wait for the next scan."""
        self.person, self.lines, self.shown = None, [], None
        self.stay = self.discharge = None
        self.person_panel.show_person(None, "", "")
        self.preview_panel.show_preview(None, {})
        self.table.setRowCount(0)
        self.match_list.clear()
        self.search.clear()
        self.use_own.setChecked(True)
        self.use_family.setChecked(True)
        self.med_type.setCurrentIndex(0)
        self.prescribing.setCurrentIndex(0)
        self.total.setText("合计 0.00")
        self.scan.clear()
        self.focus_scan()

    def _dialog_closed(self, _result: int) -> None:
        """Back to the counter: the window takes the keyboard again, so F-keys keep working."""
        self.activateWindow()
        self.focus_scan()

    def focus_scan(self) -> None:
        self.scan.setFocus()
        self.scan.selectAll()

    def focus_search(self) -> None:
        if self.person is not None:
            self.search.setFocus()
            self.search.selectAll()

    def refresh_status(self) -> None:
        def done(status: SyncStatus) -> None:
            last = f"{status.last_sent:%m-%d %H:%M}" if status.last_sent else "—"
            overdue = status.overdue(dt.datetime.now(), dt.timedelta(minutes=self.settings.sync_warn_minutes))
            parked = f"<b style='color:#b00020'>挂起 {status.parked}</b>" if status.parked else "挂起 0"
            pending = (f"<b style='color:#b00020'>待传 {status.pending}（最早 {status.oldest_pending_at:%m-%d %H:%M}）</b>"
                       if overdue else f"待传 {status.pending}")
            differ = (f" / <b style='color:#b00020'>中心结算不一致 {status.differences}</b>"
                      if status.differences else "")
            self.status_sync.setText(f"上传：{pending} / {parked} / 最近成功 {last}{differ}")
            self.status_sync.setToolTip("有医保中心拒收的报文，请主管在上传队列 (F12) 处理" if status.parked else
                                        "医保中心的结算结果与本地不同，请主管在上传队列 (F12) 核对" if differ else "")

        Op(self, lambda: sync_status(self.db)).success(done).failure(lambda e: self.status_sync.setText("上传：状态不可用")).run()

    # ----- scan and person
    def on_scan(self) -> None:
        text = self.scan.text()
        year = self.settings.visit_date().year

        def find() -> tuple[lookup.PersonView, str, str]:
            with self.db.sessions() as s:
                scanned = lookup.find_person(s, text)
                view = lookup.person_view(s, scanned.person_id, year)
            return replace(view, cert_type=scanned.cert_type, cert_no=scanned.cert_no), *self._year_limits()

        def found(result: tuple[lookup.PersonView, str, str]) -> None:
            self.reset()
            self.person = result[0]
            self.person_panel.show_person(*result)
            self.message.setText("")
            self.focus_search()
            if self.kind == "inpatient":
                self.load_stay()

        def refused(exc: Exception) -> None:
            self.show_error(exc)
            self.focus_scan()  # nothing else changes: the patient on screen, if any, stays

        Op(self, find).success(found).failure(refused).run()

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
            for e in entries:
                ratio = f" 先付{e.prepay_ratio * 100:.0f}%" if e.cls == "B" else ""
                QListWidgetItem(f"{e.code}  {e.name}  {labels.CLASS[e.cls]}{ratio}  {fmt(e.price)}/{e.unit}",
                                self.match_list)
            if entries:
                self.match_list.setCurrentRow(0)

        def search() -> list[CatalogueEntry]:
            with self.db.sessions() as s:
                return catalogue.search(s, text)

        Op(self, search).success(found).run()

    def _now(self) -> dt.datetime:
        """Now; on a counter with a fixed date (training, tests) that date at the present time, so
        an admission, its fees and its discharge keep one calendar."""
        real = dt.datetime.now()
        return real if self.settings.today is None else dt.datetime.combine(self.settings.today, real.time())

    # ----- inpatient: the stay's fees live in the store, not in the window
    def load_stay(self) -> None:
        person_id = self.person.id if self.person else None
        if person_id is None:
            return

        def show(stay: inpatient.Stay | None) -> None:
            self.stay, self.discharge = stay, None
            self.lines = [Line(CatalogueEntry(f.code, f.name, f.cls, f.price, "", ZERO, True), f.quantity,
                               f.centre_note) for f in stay.fees] if stay else []
            self.claim_changed()
            if stay is None:
                self.say("该参保人不在院：按 F4 办理入院（收取押金）")
            else:
                self.say(f"在院 {stay.adm_no}，{stay.admitted_at:%Y-%m-%d} 入院，押金 {fmt(stay.deposit)}，"
                         f"已记费用 {fmt(stay.fees_total)}")

        Op(self, lambda: inpatient.current_stay(self.db, self.settings.context, person_id)).success(show).run()

    def admit(self) -> None:
        """F4 (inpatient): admission with a deposit; the person is hospitalized from now on."""
        if self.kind != "inpatient" or self.person is None:
            return
        if self.stay is not None:
            self.show_error(ServiceError(f"{self.person.name} 已在院（{self.stay.adm_no}）"))
            return
        dialog = AdmitDialog(self)

        def accepted() -> None:
            person_id, tender = self.person.id, dialog.tender.currentData()
            cert_type, cert_no = self.person.cert_type, self.person.cert_no

            def run() -> str:
                deposit = _money_text(dialog.deposit.text(), "押金")
                return inpatient.admit(self.db, self.settings.context, person_id, deposit, tender=tender,
                                       cert_type=cert_type, cert_no=cert_no, now=self._now())

            Op(self, run).success(lambda adm_no: (self.say(f"已入院 {adm_no}"), self.load_stay())).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def _post_fee(self, code: str, quantity: Decimal) -> None:
        if self.stay is None:
            self.show_error(ServiceError("该参保人不在院，请先办理入院（F4）"))
            return
        adm_no = self.stay.adm_no
        at = self._now()
        Op(self, lambda: inpatient.post_fee(self.db, self.settings.context, adm_no, code, quantity, now=at)).success(
            lambda _: self.load_stay()).run()

    def add_current_match(self) -> None:
        row = self.match_list.currentRow()
        if self.person is None or not 0 <= row < len(self.matches):
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
            for col, text in enumerate((e.code, e.name, labels.CLASS[e.cls], fmt(e.price), str(line.quantity),
                                        fmt(line.amount), line.centre_note)):
                item = QTableWidgetItem(text)
                if 3 <= col <= 5:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(n, col, item)
        self.total.setText(f"合计 {fmt(sum((l.amount for l in self.lines), ZERO))}")

    def request(self) -> svc.ClaimRequest:
        assert self.person is not None
        return svc.ClaimRequest(
            self.person.id, tuple(svc.ClaimLine(l.entry.code, l.quantity) for l in self.lines),
            self.settings.visit_date(), med_type=self.med_type.currentData(),
            prescribing_level=self.prescribing.currentData() if self.med_type.currentData() == "41" else None,
            use_own_account=self.use_own.isChecked(), use_family_account=self.use_family.isChecked(),
            cert_type=self.person.cert_type, cert_no=self.person.cert_no)

    def _provider_names(self) -> dict[str, str]:
        return {p.psn_no: p.name for p in self.person.providers} if self.person else {}

    # ----- preview and settle
    def preview(self) -> None:
        if self.person is None or not self.lines:
            self.show_error(ServiceError("请先扫码并录入收费项目"))
            return
        if self.kind == "inpatient":
            self.preview_discharge()
            return
        request = self.request()

        def shown(pv: svc.Preview) -> None:
            if request != self.request():
                return  # the claim changed while previewing
            self.shown = pv
            self.preview_panel.show_preview(pv, self._provider_names())
            self.message.setText("")
            if self.settings.centre is not None and self.settings.centre_presettle:
                self.ask_centre(pv)

        Op(self, lambda: svc.preview(self.db, self.settings.context, request)).success(shown).run()

    def ask_centre(self, pv: svc.Preview) -> None:
        """The centre's own pre-settlement (2206) beside the preview, before the patient confirms
        (a setting, off by default: it adds round trips). A difference is shown, not enforced: the
        counter settles with its engine and the centre's answer is compared again on 2207."""
        centre, ctx, person = self.settings.centre, self.settings.context, self.person

        def said(diff: dict[str, list[str]]) -> None:
            if self.shown is not pv:
                return  # the claim changed meanwhile
            if not diff:
                self.say("医保中心预结算与本地一致")
                return
            text = "医保中心预结算与本地不同：" + "，".join(
                f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {a} 中心 {b}" for k, (a, b) in diff.items())
            self.preview_panel.notice.setText(text + "；结算后将标记，待主管核对")
            self.errors.append(text)

        Op(self, lambda: centre.outpatient_check(ctx, pv, person.cert_type, person.cert_no)).success(said).failure(
            lambda exc: self.say(f"未能向医保中心预结算（{exc}）：仍可按本地预结算结算")).run()

    def preview_discharge(self) -> None:
        if self.stay is None:
            self.show_error(ServiceError("该参保人不在院"))
            return
        centre = self.settings.centre
        if centre is None:
            self.show_error(ServiceError("住院结算由医保中心计算，需联网：本窗口未配置医保中心地址（启动时 --centre）"))
            return
        adm_no, day, med_type = self.stay.adm_no, self.settings.visit_date(), self.med_type.currentData()
        interim, use_account = self.interim.isChecked(), self.use_own.isChecked()

        def run() -> inpatient.DischargePreview:
            return inpatient.discharge_preview(self.db, self.settings.context, adm_no, day, centre, med_type=med_type,
                                               interim=interim, use_account=use_account)

        Op(self, run).success(self.show_discharge).run()

    def show_discharge(self, pv: inpatient.DischargePreview, note: str = "") -> None:
        """The centre's fund payment, the local split of the personal part, and the deposit; the
        lines as the centre classed them (the stay's queue went up first)."""
        self.lines = [Line(CatalogueEntry(f.code, f.name, f.cls, f.price, "", ZERO, True), f.quantity, f.centre_note)
                      for f in pv.stay.fees]
        self._render_lines()
        self.discharge, self.shown = pv, pv.preview
        when = "中途结算" if pv.interim else "出院"
        deposit = (f"医保中心：统筹基金支付 {fmt(pv.preview.result.fund_pay_sumamt)}（本次起付线 "
                   f"{fmt(pv.preview.result.act_pay_dedc)}）；押金 {fmt(pv.stay.deposit)}：" +
                   (f"{when}应补收 {fmt(pv.to_collect)}" if pv.to_collect or pv.interim
                    else f"出院应退还 {fmt(pv.to_refund)}"))
        self.preview_panel.show_preview(pv.preview, self._provider_names(), f"{note}\n{deposit}" if note else deposit)

    def confirm_discharge(self) -> None:
        pv, tender = self.discharge, self.preview_panel.tender.currentData()
        med_type, centre = self.med_type.currentData(), self.settings.centre

        def done(result: inpatient.Discharged) -> None:
            self.last_setl_no = result.settled.setl_no
            self.say(f"{'中途' if pv.interim else '出院'}结算成功 {result.settled.setl_no}；押金抵扣 "
                     f"{fmt(result.applied)}，补收 {fmt(result.to_collect)}，退还 {fmt(result.to_refund)}")
            self.print_slip(result.settled.setl_no)
            self.refresh_status()
            self.reset()

        def refused(exc: Exception) -> None:
            if isinstance(exc, inpatient.DischargeChanged):  # nothing recorded: the new split to confirm
                self.show_discharge(exc.discharge, str(exc))
                self.errors.append(str(exc))
                return
            if isinstance(exc, svc.SplitChanged):
                self.preview_discharge()
            self.show_error(exc)

        at = self._now()
        Op(self, lambda: inpatient.discharge(self.db, self.settings.context, pv.stay.adm_no, pv, centre,
                                             med_type=med_type, tender=tender, now=at)).success(done).failure(refused).run()

    def confirm(self) -> None:
        if self.shown is None:
            self.show_error(ServiceError("请先预结算（F5），向参保人确认分摊后再结算"))
            return
        if self.kind == "inpatient":
            self.confirm_discharge()
            return
        request, confirmed = self.request(), self.shown

        def settled(done: svc.Settled) -> None:
            self.last_setl_no = done.setl_no
            self.say(f"结算成功 {done.setl_no}，应收现金 {fmt(done.result.psn_cash_pay)}")
            self.print_slip(done.setl_no)
            self.refresh_status()  # one more message waits for upstream
            self.reset()

        def refused(exc: Exception) -> None:
            if isinstance(exc, svc.SplitChanged):
                self.shown = exc.preview  # show the new split; the cashier confirms again
                self.preview_panel.show_preview(exc.preview, self._provider_names(), exc.message)
                self.errors.append(exc.message)
            else:
                self.show_error(exc)

        tender = self.preview_panel.tender.currentData()
        Op(self, lambda: svc.settle(self.db, self.settings.context, request, confirmed, tender=tender)) \
            .success(settled).failure(refused).run()

    # ----- slips: only after the settlement is committed
    def print_slip(self, setl_no: str) -> None:
        def printed(result: tuple[Path, Any]) -> None:
            path, slip = result
            self.last_slip = path
            if self.settings.printer:
                try:
                    slip_printer.print_slip(slip, slip_printer.thermal_printer(self.settings.printer))
                except slip_printer.PrinterError as exc:
                    self.show_error(exc)
                    return
            self.say(f"{self.message.text()}；结算单 {path.name}")  # keep what the cashier must act on

        def failed(exc: Exception) -> None:
            self.show_error(RuntimeError(f"结算已完成（{setl_no}），但结算单未能打印：{exc}。可按 F10 补打"))

        Op(self, lambda: output.save_pdf(self.db, self.settings.context, setl_no, self.settings.slip_dir)) \
            .success(printed).failure(failed).run()

    def reprint(self) -> None:
        """F10: reprint any earlier slip, marked as a reprint (its own permission)."""
        if not self.user.may("reprint"):
            self.show_error(ServiceError(f"{self.user.role_name}无补打权限"))
            return
        dialog = SettlementDialog(self, "补打结算单", approval=False, setl_no=self.last_setl_no or "")
        dialog.accepted.connect(lambda: self.print_slip(dialog.setl_no.text().strip()))
        self._open(dialog)

    def refund(self) -> None:
        """F11: show what will be reversed, take a supervisor's approval, then reverse it all."""
        if not self.user.may("refund"):
            self.show_error(ServiceError(f"{self.user.role_name}无退费权限"))
            return
        dialog = SettlementDialog(self, "退费", approval=True, setl_no=self.last_setl_no or "")

        def accepted() -> None:
            setl_no, staff_no = dialog.setl_no.text().strip(), dialog.staff_no.text()
            password, reason = dialog.password.text(), dialog.reason.text()

            inpatient_counter, centre = self.kind == "inpatient", self.settings.centre

            def run() -> str:
                approval = approve_refund(self.db, self.settings.context, staff_no, password, setl_no)
                if inpatient_counter:  # 2305 with the centre, online; the stay opens again
                    if centre is None:
                        raise ServiceError("撤销住院结算需联网医保中心：本窗口未配置医保中心地址")
                    return inpatient.cancel(self.db, self.settings.context, setl_no, approval, reason, centre)
                return svc.refund(self.db, self.settings.context, setl_no, approval, reason).setl_no

            def done(reversal: str) -> None:
                self.last_setl_no = reversal
                self.say(f"{'撤销住院结算' if inpatient_counter else '退费'}成功 {reversal}（原 {setl_no}）")
                self.print_slip(reversal)
                self.refresh_status()
                if inpatient_counter and self.person is not None:
                    self.load_stay()

            Op(self, run).success(done).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def check_shift(self) -> None:
        """Ask for the opening float when this cashier has no open shift at this counter."""
        def checked(state: ShiftState | None) -> None:
            self.shift = state
            if state is None:
                self.open_shift_dialog()

        Op(self, lambda: shift_state(self.db, self.settings.context)).success(checked).run()

    def open_shift_dialog(self) -> None:
        dialog = OpenShiftDialog(self)

        def accepted() -> None:
            def run() -> int:
                return open_shift(self.db, self.settings.context, _money_text(dialog.opening_float.text(), "备用金"))

            def failed(exc: Exception) -> None:
                self.show_error(exc)
                self.open_shift_dialog()

            Op(self, run).success(lambda _: (self.say("已开班，可以收费"), self.check_shift())).failure(failed).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def close_shift(self) -> None:
        """F7: count the drawer, see the totals and anything not yet sent, close and print."""
        dialog = CloseShiftDialog(self)

        def accepted() -> None:
            acknowledged = dialog.acknowledge.isChecked()

            def run() -> tuple:
                from ..printing import shift_report

                counted = _money_text(dialog.counted.text(), "实点现金")
                report = close_shift(self.db, self.settings.context, counted, acknowledge_pending=acknowledged)
                name = svc.institution_label(self.db, self.settings.context.institution_code)[0]
                path = self.settings.slip_dir / f"shift-{report.shift_id}.pdf"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(shift_report.render(report, name))
                return report, path

            def done(result: tuple) -> None:
                report, path = result
                self.last_shift_report = path
                self.say(f"已交班：应有现金 {fmt(report.expected_cash)}，实点 {fmt(report.counted_cash)}，"
                         f"差额 {fmt(report.difference)}；交班报表 {path.name}")
                self.check_shift()

            def failed(exc: Exception) -> None:
                self.show_error(exc)
                if isinstance(exc, ShiftHasPending):
                    self.close_shift()  # show the list; the cashier confirms to close anyway

            Op(self, run).success(done).failure(failed).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def outbox(self) -> None:
        """F12 (supervisors): what has not reached the centre, and why."""
        if not self.user.may("outbox"):
            self.show_error(ServiceError(f"{self.user.role_name}无权查看上传队列"))
            return
        self._open(OutboxDialog(self))

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog  # the open dialog (tests and screenshots reach it here)
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        dialog.load()
