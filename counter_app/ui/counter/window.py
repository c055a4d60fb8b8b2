"""The outpatient counter: scan, build the claim, preview the split, settle, print, next patient.

Every step has a function key shown on its button; the scan field takes the focus whenever the
window is idle. The window keeps only what it displays (the person on screen, the claim lines,
the preview the patient was shown); every rule is in `services`, and every call to them runs as a
background `Op`, so the window never freezes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from ... import labels
from ...services import clinical, inpatient, lookup
from ...services import settlement as svc
from ...services.actor import Actor, StaleActor
from ...services.catalogue import CatalogueEntry
from ...services.errors import ServiceError, database_trouble
from ...services.shift import ShiftState
from ...services.sync_status import SyncStatus, sync_status
from ...store import Database
from .. import slip_printer
from ..ops import Op
from ..qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequence,
    QLabel,
    QLineEdit,
    QListWidget,
    QMainWindow,
    QPushButton,
    QShortcut,
    Qt,
    QTableWidget,
    QTimer,
    QVBoxLayout,
    QWidget,
    named,
)
from .claim import ClaimMixin
from .drawer import DrawerMixin
from .person_panel import PersonPanel
from .settings import (
    COUNTER_KIND,
    COUNTER_MED_TYPES,
    KEY_PERMISSIONS,
    PRESCRIBING_LEVELS,
    CounterSettings,
    Line,
)
from .settle import SettleMixin
from .settlement_panel import PreviewPanel
from .stay import StayMixin
from .visit_panel import VisitPanel
from .widgets import label as _label

log = logging.getLogger(__name__)


class CounterWindow(ClaimMixin, SettleMixin, StayMixin, DrawerMixin, QMainWindow):
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
        self.sign_in_again: Any = None  # the sign-in dialog while a stale actor signs in again
        self.busy = False
        kind = {"pharmacy_clerk": "药店", "inpatient_cashier": "住院"}.get(user.role, "门诊")
        self.setWindowTitle(
            f"医保{kind}收费 — {settings.context.institution_code} {settings.context.counter}"
        )
        self._build()
        self._shortcuts()
        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start(5000)
        if settings.backups is not None and settings.backups.every_minutes:
            self.backup_timer = QTimer(self)
            self.backup_timer.timeout.connect(lambda: self.back_up("timer"))
            self.backup_timer.start(settings.backups.every_minutes * 60_000)
        self.refresh_status()
        Op(self, lambda: svc.institution_label(db, settings.context.institution_code)).success(
            lambda info: (
                self.level.setText(f"{info[0]}（{labels.LEVEL[info[1]]}）"),
                self.level.setToolTip(f"政策包 {info[2]}"),
            )
        ).run()
        self.reset()
        self.check_shift()

    # ----- layout

    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(4)
        scan_row = QHBoxLayout()
        scan_row.addWidget(QLabel("扫码 / 证件号"))
        self.scan = named(QLineEdit(), "scan")
        self.scan.setPlaceholderText("扫描医保电子凭证、社保卡，或输入身份证号后回车")
        self.scan.returnPressed.connect(self.on_scan)
        scan_row.addWidget(self.scan, 1)
        self.message = _label(name="message")
        self.message.setStyleSheet("color: #b00020")
        outer.addLayout(scan_row)
        outer.addWidget(self.message)

        body = QHBoxLayout()
        self.person_panel = PersonPanel(inpatient=COUNTER_KIND.get(self.user.role) == "inpatient")
        body.addWidget(self.person_panel, 2)
        right = QVBoxLayout()
        claim_box = QGroupBox("收费项目")
        claim = QVBoxLayout(claim_box)
        claim.setContentsMargins(8, 4, 8, 4)
        claim.setSpacing(4)
        search_row = QHBoxLayout()
        search_row.addWidget(QLabel("项目"))
        self.search = named(QLineEdit(), "search")
        self.search.setPlaceholderText("编码、名称或拼音首字母")
        self.search.textEdited.connect(self.on_search_text)
        self.search.returnPressed.connect(self.add_current_match)
        self.search.installEventFilter(self)
        search_row.addWidget(self.search, 1)
        search_row.addWidget(QLabel("数量"))
        self.quantity = named(QDoubleSpinBox(), "quantity")
        self.quantity.setDecimals(2)
        self.quantity.setRange(0.01, 9999)
        self.quantity.setValue(1)
        search_row.addWidget(self.quantity)
        self.quantity.lineEdit().returnPressed.connect(self.apply_quantity)  # F6, then Enter
        claim.addLayout(search_row)
        self.match_list = named(QListWidget(), "matches")
        self.match_list.setMaximumHeight(110)
        self.match_list.setMinimumHeight(48)  # a few matches show; the list scrolls, the window does not
        self.match_list.itemActivated.connect(lambda _: self.add_current_match())
        claim.addWidget(self.match_list)
        self.table = named(QTableWidget(0, 7), "claim_lines")
        self.table.setMinimumHeight(60)
        self.table.setHorizontalHeaderLabels(["编码", "名称", "类别", "单价", "数量", "金额", "医保中心分类"])
        self.table.setColumnHidden(6, COUNTER_KIND.get(self.user.role) != "inpatient")
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        claim.addWidget(self.table)
        options = QHBoxLayout()
        options.addWidget(QLabel("医疗类别"))
        self.med_type = named(QComboBox(), "med_type")
        self.kind = COUNTER_KIND.get(self.user.role, "outpatient")
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
        claim.addLayout(options)
        try:
            visit_choices = clinical.choices(self.db, self.settings.context.institution_code)
        except ServiceError:
            visit_choices = clinical.Choices((), ())  # an unknown institution: the settle says so
        self.visit_panel = VisitPanel(visit_choices, lambda text: clinical.find_diseases(self.db, text))
        self.visit_panel.changed.connect(self.claim_changed)
        self.visit_panel.setVisible(self.kind != "pharmacy")
        claim.addWidget(self.visit_panel)
        right.addWidget(claim_box, 3)
        self.preview_panel = PreviewPanel()
        if self.kind == "inpatient":  # a discharge is paid by one means (the deposit does the rest)
            for field in self.preview_panel.split.values():
                field.setVisible(False)
        right.addWidget(self.preview_panel, 2)
        body.addLayout(right, 5)
        outer.addLayout(body, 1)

        keys = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        admit = (("F4", "入院", self.admit),) if self.kind == "inpatient" else ()
        for key, title, slot in (
            ("F2", "扫码", self.focus_scan),
            ("F3", "项目", self.focus_search),
            *admit,
            ("Del", "删除行", self.remove_line),
            ("F6", "改数量", self.edit_quantity),
            ("F5", "预结算", self.preview),
            ("F7", "交班", self.close_shift),
            ("F9", "确认结算", self.confirm),
            ("F10", "补打", self.reprint),
            ("F11", "退费", self.refund),
            ("F12", "上传队列", self.outbox),
            ("Esc", "取消", self.reset),
        ):
            button = named(QPushButton(f"{title} [{key}]"), f"button_{key}")
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
        where = "本机数据库" if self.db.url.get_backend_name() == "sqlite" else "院内共享数据库"
        self.status_db = QLabel(f"数据：{where}")
        self.status_db.setToolTip(self.db.describe())  # the URL is for the supervisor, not the cashier's view
        self.status_user = QLabel(f"{self.user.name}（{self.user.role_name}）")
        self.status_sync = named(QLabel("上传：—"), "status_sync")
        self.status_busy = named(QLabel(""), "status_busy")
        for widget in (self.status_db, self.status_user, self.status_sync, self.status_busy):
            self.statusBar().addPermanentWidget(widget)
        self.fit_screen()
        self.customer = None  # the patient's screen, opened in showEvent where a second screen is present

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self.settings.customer_display and self.customer is None:
            from .customer_display import CustomerDisplay

            self.customer = CustomerDisplay.open_beside(self)
            if self.customer is None:  # turned on, but this PC has one screen: say so, once
                self.say("已开启客显屏，但本机只有一个显示器：客显屏未打开（接上第二个显示器后重启）")
            if self.customer is not None:
                self.preview_panel.changed.connect(lambda: self.customer.mirror(self.preview_panel))
                self.customer.mirror(self.preview_panel)

    def closeEvent(self, event: Any) -> None:
        if self.customer is not None:
            self.customer.close()
        super().closeEvent(event)

    def resizeEvent(self, event: Any) -> None:
        """The settlement panel's type grows with the window (1366×728 is the base)."""
        super().resizeEvent(event)
        factor = max(1.0, min(1.6, event.size().height() / 728))
        if abs(factor - getattr(self, "_scale", 1.0)) > 0.02:
            self._scale = factor
            self.preview_panel.scale(factor)

    def fit_screen(self) -> None:
        """Fill the screen's free area (1366×768 minus its taskbar is 1366×728): nothing scrolls,
        and on a larger screen the amounts grow into the room."""
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = (screen.width(), screen.height()) if screen else (1366, 728)
        self.resize(min(width, 1920), min(height, 1080))

    def _menu(self) -> None:
        """功能 menu: what this role may open besides the counter itself."""
        menu = self.menuBar().addMenu("功能")
        entries = [
            ("交班 (F7)", self.close_shift, self.user.may("shift")),
            ("家庭共济绑定 (Ctrl+B)", self.binding_desk, self.user.may("bind")),
            ("日结", self.close_day, self.user.may("day_close")),
            ("经办业务（划入、计息、申报、监测）", self.agency_desk, self.user.may("batch")),
            ("上传队列 (F12)", self.outbox, self.user.may("outbox")),
            ("本窗口设置 (F8)", self.counter_settings, self.user.may("settings")),
        ]
        self.menu_actions = {}
        for title, slot, allowed in entries:
            if allowed:
                self.menu_actions[title] = menu.addAction(title, slot)
        if self.user.may("bind"):
            shortcut = QShortcut(QKeySequence("Ctrl+B"), self)
            shortcut.activated.connect(self.binding_desk)

    def counter_settings(self) -> None:
        """F8 (supervisors): this counter's settings file, checked and audited (dialogs/counter_settings.py)."""
        from ..dialogs.counter_settings import CounterSettingsDialog

        if not self.user.may("settings"):
            self.show_error(ServiceError(f"{self.user.role_name}无权修改本窗口设置"))
            return
        self._open(CounterSettingsDialog(self))

    def binding_desk(self) -> None:
        from ..binding_desk import BindingDesk

        if not self.user.may("bind"):
            self.show_error(ServiceError(f"{self.user.role_name}无家庭共济绑定权限"))
            return
        desk = BindingDesk(self)
        self.dialog = desk
        desk.finished.connect(self._dialog_closed)
        desk.open()

    def agency_desk(self) -> None:
        from ..agency_desk import AgencyDesk

        desk = AgencyDesk(self)
        self.dialog = desk
        desk.finished.connect(self._dialog_closed)
        desk.open()

    def _shortcuts(self) -> None:
        for key, slot in (
            ("F2", self.focus_scan),
            ("F3", self.focus_search),
            ("F5", self.preview),
            ("F7", self.close_shift),
            ("F4", self.admit),
            ("F9", self.confirm),
            ("F10", self.reprint),
            ("F11", self.refund),
            ("F12", self.outbox),
            ("F8", self.counter_settings),
            ("Esc", self.reset),
            ("F6", self.edit_quantity),
            ("Del", self.remove_line),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        """Up/Down in the search field move through the matches, so hands stay on the keyboard; Del
        there with nothing typed removes the selected (else the last) line, as the key says."""
        if (
            obj is self.search
            and event.type() in (event.Type.KeyPress, event.Type.ShortcutOverride)
            and event.key() == Qt.Key.Key_Delete
            and not self.search.text()
        ):
            if event.type() == event.Type.KeyPress:
                if not 0 <= self.table.currentRow() < len(self.lines) and self.lines:
                    self.table.selectRow(len(self.lines) - 1)
                self.remove_line()
            event.accept()
            return True
        if (
            obj is self.search
            and event.type() == event.Type.KeyPress
            and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down)
        ):
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
        if isinstance(exc, StaleActor):  # the staff row changed since sign-in: sign in again
            self.return_to_sign_in(str(exc))
            return
        trouble = database_trouble(exc)  # a full disk or a lost database, in the cashier's words
        known = isinstance(exc, (ServiceError, ValueError, LookupError, slip_printer.PrinterError))
        text = trouble or (str(exc) if known else f"系统错误：{exc}")
        context = self.settings.context
        if (
            known and not trouble
        ):  # said to the cashier; the log keeps who, where and what (logs.Redact masks people)
            log.info("%s at %s: %s: %s", context.staff_no, context.counter, type(exc).__name__, exc)
        else:
            log.error(
                "%s at %s: unexpected %s", context.staff_no, context.counter, type(exc).__name__, exc_info=exc
            )
        self.errors.append(text)
        self.message.setStyleSheet("color: #b00020")
        self.message.setText(text)

    def return_to_sign_in(self, why: str) -> None:
        """The services refused a stale actor (issue 26): the window waits behind the sign-in
        dialog (modal to it). The same person in the same role carries on here; anyone else, or a cancel,
        closes the counter, which opens afresh for whoever signs in next."""
        from ..signin import SignInDialog

        log.warning("%s at %s: signed out: %s", self.user.staff_no, self.settings.context.counter, why)
        self.errors.append(why)
        self.message.setStyleSheet("color: #b00020")
        self.message.setText(why)
        context = self.settings.context
        dialog = SignInDialog(self.db, context.institution_code, context.counter)
        dialog.setParent(self, Qt.WindowType.Dialog)  # modal to this window, which it hands back to
        dialog.message.setText(why)
        self.sign_in_again = dialog

        def finished(code: int) -> None:
            user = dialog.user
            self.sign_in_again = None
            if (
                code != SignInDialog.DialogCode.Accepted
                or user is None
                or (user.staff_no, user.role)
                != (
                    self.user.staff_no,
                    self.user.role,
                )
            ):
                self.close()
                return
            self.user = user
            self.settings = dataclasses.replace(self.settings, context=user)
            self.say(f"{user.name} 已重新登录")

            def back() -> None:  # once the dialog has gone: the keys work again, the screen stays
                self.activateWindow()
                self.scan.setFocus()

            QTimer.singleShot(0, back)

        dialog.finished.connect(finished)
        dialog.open()

    def back_up(self, why: str) -> None:
        """A backup in the background (settings.backups); its line goes to the message bar."""
        if self.settings.backups is not None:
            Op(self, lambda: self.settings.backups.take(why)).success(self.say).run()

    def say(self, text: str) -> None:
        self.message.setStyleSheet("color: #1b5e20")
        self.message.setText(text)

    def _self_pay_toggled(self, on: bool) -> None:
        """自费: the accounts and the visit's insurance facts do not apply; without a patient on
        screen the cashier types the payer's name."""
        for widget in (self.use_own, self.use_family, self.visit_panel):
            widget.setEnabled(not on)
        self.payer.setVisible(on and self.person is None)
        if on and self.person is None:
            self.payer.setFocus()
        self.claim_changed()

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
        self.self_pay.setChecked(False)
        self.payer.clear()
        self.visit_panel.reset()
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
            pending = (
                f"<b style='color:#b00020'>待传 {status.pending}（最早 {status.oldest_pending_at:%m-%d %H:%M}）</b>"
                if overdue
                else f"待传 {status.pending}"
            )
            differ = (
                f" / <b style='color:#b00020'>中心结算不一致 {status.differences}</b>"
                if status.differences
                else ""
            )
            self.status_sync.setText(f"上传：{pending} / {parked} / 最近成功 {last}{differ}")
            self.status_sync.setToolTip(
                "有医保中心拒收的报文，请主管在上传队列 (F12) 处理"
                if status.parked
                else "医保中心的结算结果与本地不同，请主管在上传队列 (F12) 核对"
                if differ
                else ""
            )

        Op(self, lambda: sync_status(self.db)).success(done).failure(
            lambda e: self.status_sync.setText("上传：状态不可用")
        ).run()

    # ----- scan and person

    def _open(self, dialog: QDialog) -> None:
        self.dialog = dialog  # the open dialog (tests and screenshots reach it here)
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        dialog.load()
