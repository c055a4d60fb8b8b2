"""The outpatient counter: scan, build the claim, preview the split, settle, print, next patient.

Every step has a function key shown on its button; the scan field takes the focus whenever the
window is idle. The window is made of parts that own their state (the scan bar, the claim panel,
the person and settlement panels, the money steps, the stay, the slips, the drawer), each given the
`Desk` (database, settings, message line, background work), never the window; the window lays them
out, maps the keys to them and connects their signals. Every rule is in `services`, and every call
to them runs as a background `Op`, so the window never freezes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from ... import labels
from ...services import clinical, inpatient, lookup, self_pay
from ...services import settlement as svc
from ...services.actor import Actor
from ...services.catalogue import CatalogueEntry
from ...services.errors import ServiceError
from ...services.shift import ShiftState
from ...services.sync_status import SyncStatus, sync_status
from ...store import Database
from ..qt import (
    QDialog,
    QHBoxLayout,
    QKeySequence,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QShortcut,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    named,
)
from .claim import ClaimPanel
from .desk import Desk, MessageLine
from .drawer import DrawerFlow
from .person_panel import PersonPanel
from .scan import ScanBar
from .settings import KEY_PERMISSIONS, CounterSettings, Line
from .settle import SettleFlow
from .settlement_panel import PreviewPanel
from .slips import Slips
from .stay import StayFlow

log = logging.getLogger(__name__)


class CounterWindow(QMainWindow):
    def __init__(self, db: Database, user: Actor, settings: CounterSettings) -> None:
        super().__init__()
        if settings.context is not user:
            settings = dataclasses.replace(settings, context=user)
        self.desk = desk = Desk(self, db, settings)
        self.sign_in_again: Any = None  # the sign-in dialog while a stale actor signs in again
        self.customer: Any = (
            None  # the patient's screen, opened in showEvent where a second screen is present
        )
        self._scale = 1.0
        kind = {"pharmacy": "药店", "inpatient": "住院"}.get(desk.kind, "门诊")
        self.setWindowTitle(
            f"医保{kind}收费 — {settings.context.institution_code} {settings.context.counter}"
        )
        try:
            visit_choices = clinical.choices(db, settings.context.institution_code)
        except ServiceError:
            visit_choices = clinical.Choices((), ())  # an unknown institution: the settle says so
        self.scan_bar = ScanBar(desk)
        self.scan: QLineEdit = self.scan_bar.field
        self.claim = ClaimPanel(desk, visit_choices)
        self.person_panel = PersonPanel(inpatient=desk.kind == "inpatient")
        self.preview_panel = PreviewPanel()
        if desk.kind == "inpatient":  # a discharge is paid by one means (the deposit does the rest)
            for field in self.preview_panel.split.values():
                field.setVisible(False)
        self.slips = Slips(desk)
        self.money = SettleFlow(desk, self.claim, self.preview_panel, self.slips)
        self.stay_flow = StayFlow(desk, self.claim, self.preview_panel, self.slips)
        self.drawer = DrawerFlow(desk)
        self._connect()
        self._build()
        self._shortcuts()
        self.status_timer = QTimer(self)
        self.status_timer.timeout.connect(self.refresh_status)
        self.status_timer.start(5000)
        if settings.backups is not None and settings.backups.every_minutes:
            self.backup_timer = QTimer(self)
            self.backup_timer.timeout.connect(lambda: desk.back_up("timer"))
            self.backup_timer.start(settings.backups.every_minutes * 60_000)
        self.refresh_status()
        desk.run(lambda: svc.institution_label(db, settings.context.institution_code)).success(
            self._show_institution
        ).run()
        self.reset()
        self.drawer.check_shift()

    def _connect(self) -> None:
        """How the parts tell each other: through the window, never by reaching into one another."""
        desk = self.desk
        desk.stale.connect(self.return_to_sign_in)
        desk.dialog_closed.connect(self._dialog_closed)
        desk.busy_changed.connect(lambda busy: self.status_busy.setText("处理中…" if busy else ""))
        self.scan_bar.found.connect(self.show_found)
        self.claim.changed.connect(self.money.void)
        self.claim.changed.connect(self.stay_flow.void)
        self.money.settled.connect(self._settled)
        self.stay_flow.settled.connect(self._settled)
        self.money.refunded.connect(self._refunded)
        self.drawer.takes_no_money.connect(self.agency_desk)

    # ----- what the parts hold, as tests and the smoke visit read it

    @property
    def db(self) -> Database:
        return self.desk.db

    @property
    def settings(self) -> CounterSettings:
        return self.desk.settings

    @property
    def user(self) -> Actor:
        return self.desk.user

    @property
    def kind(self) -> str:
        return self.desk.kind

    @property
    def busy(self) -> bool:
        return self.desk.busy

    @property
    def message(self) -> MessageLine:
        return self.desk.message

    @property
    def errors(self) -> list[str]:
        return self.desk.message.errors

    @property
    def dialog(self) -> QDialog | None:
        return self.desk.dialog

    @property
    def person(self) -> lookup.PersonView | None:
        return self.claim.person

    @property
    def lines(self) -> list[Line]:
        return self.claim.lines

    @property
    def matches(self) -> list[CatalogueEntry]:
        return self.claim.matches

    @property
    def shown(self) -> svc.Preview | self_pay.SelfPayPreview | None:
        """The preview the patient saw, which F9 settles."""
        if self.kind == "inpatient":
            return self.stay_flow.discharge.preview if self.stay_flow.discharge else None
        return self.money.shown

    @property
    def stay(self) -> inpatient.Stay | None:
        return self.stay_flow.stay

    @property
    def discharge(self) -> inpatient.DischargePreview | None:
        return self.stay_flow.discharge

    @property
    def last_setl_no(self) -> str | None:
        return self.slips.last_setl_no

    @property
    def last_slip(self) -> Path | None:
        return self.slips.last_slip

    @property
    def last_shift_report(self) -> Path | None:
        return self.drawer.last_shift_report

    @property
    def shift(self) -> ShiftState | None:
        return self.drawer.shift

    # ----- layout

    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 4, 8, 4)
        outer.setSpacing(4)
        outer.addWidget(self.scan_bar)
        outer.addWidget(self.message)
        body = QHBoxLayout()
        body.addWidget(self.person_panel, 2)
        right = QVBoxLayout()
        right.addWidget(self.claim, 3)
        right.addWidget(self.preview_panel, 2)
        body.addLayout(right, 5)
        outer.addLayout(body, 1)
        outer.addLayout(self._keys())
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

    def _keys(self) -> QHBoxLayout:
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
        return keys

    def _show_institution(self, info: tuple[str, int, str]) -> None:
        self.claim.level.setText(f"{info[0]}（{labels.LEVEL[info[1]]}）")
        self.claim.level.setToolTip(f"政策包 {info[2]}")

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
        if abs(factor - self._scale) > 0.02:
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

    # ----- the keys: each hands over to the part that owns the step

    def on_scan(self) -> None:
        self.scan_bar.on_scan()

    def on_search_text(self, text: str) -> None:
        self.claim.on_search_text(text)

    def add_current_match(self) -> None:
        self.claim.add_current_match()

    def edit_quantity(self) -> None:
        self.claim.edit_quantity()

    def remove_line(self) -> None:
        self.claim.remove_line()

    def preview(self) -> None:
        """F5: the outpatient or pharmacy split, or the centre's pricing of the discharge."""
        if self.kind == "inpatient":
            self.stay_flow.preview_discharge()
        else:
            self.money.preview()

    def confirm(self) -> None:
        """F9: settle exactly what the patient was shown."""
        if self.kind == "inpatient":
            self.stay_flow.confirm_discharge()
        else:
            self.money.confirm()

    def admit(self) -> None:
        self.stay_flow.admit()

    def reprint(self) -> None:
        self.slips.reprint()

    def refund(self) -> None:
        self.money.refund()

    def close_shift(self) -> None:
        self.drawer.close_shift()

    def close_day(self) -> None:
        self.drawer.close_day()

    def outbox(self) -> None:
        self.drawer.outbox()

    def counter_settings(self) -> None:
        """F8 (supervisors): this counter's settings file, checked and audited (dialogs/counter_settings.py)."""
        from ..dialogs.counter_settings import CounterSettingsDialog

        if not self.user.may("settings"):
            self.desk.refuse(f"{self.user.role_name}无权修改本窗口设置")
            return
        self.desk.open(CounterSettingsDialog(self.desk))

    def binding_desk(self) -> None:
        from ..binding_desk import BindingDesk

        if not self.user.may("bind"):
            self.desk.refuse(f"{self.user.role_name}无家庭共济绑定权限")
            return
        self.desk.open(BindingDesk(self.desk), load=False)

    def agency_desk(self) -> None:
        from ..agency_desk import AgencyDesk

        self.desk.open(AgencyDesk(self.desk), load=False)

    # ----- what the parts said

    def show_found(self, view: lookup.PersonView, deductible: str, cap: str) -> None:
        self.reset()
        self.claim.reset(view)
        self.person_panel.show_person(view, deductible, cap, now=dt.datetime.now())
        self.message.setText("")
        if not view.online and self.settings.centre is not None:  # offline: the cached person, and how old
            self.say(view.source_note(dt.datetime.now()))
        if view.out_of_area:
            self.say(f"异地参保人（参保地 {view.insuplc_admdvs}）：由医保中心按参保地政策联网结算")
        self.focus_search()
        if self.kind == "inpatient":
            self.stay_flow.load_stay()

    def _settled(self, _setl_no: str) -> None:
        """The split stays on screen marked 已结算; the scan field is ready for the next patient."""
        self.refresh_status()  # one more message waits for upstream
        self.scan.clear()
        self.focus_scan()

    def _refunded(self, note: str) -> None:
        self.refresh_status()
        if self.kind == "inpatient" and self.person is not None:
            self.stay_flow.load_stay(note)

    # ----- state shown

    def show_error(self, exc: Exception) -> None:
        self.desk.show_error(exc)

    def say(self, text: str) -> None:
        self.desk.say(text)

    def return_to_sign_in(self, why: str) -> None:
        """The services refused a stale actor (issue 26): the window waits behind the sign-in
        dialog (modal to it). The same person in the same role carries on here; anyone else, or a cancel,
        closes the counter, which opens afresh for whoever signs in next."""
        from ..signin import SignInDialog

        log.warning("%s at %s: signed out: %s", self.user.staff_no, self.settings.context.counter, why)
        self.message.warn(why)
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
                or (user.staff_no, user.role) != (self.user.staff_no, self.user.role)
            ):
                self.close()
                return
            self.desk.settings = dataclasses.replace(self.settings, context=user)
            self.say(f"{user.name} 已重新登录")

            def back() -> None:  # once the dialog has gone: the keys work again, the screen stays
                self.activateWindow()
                self.scan.setFocus()

            QTimer.singleShot(0, back)

        dialog.finished.connect(finished)
        dialog.open()

    def back_up(self, why: str) -> None:
        self.desk.back_up(why)

    def reset(self) -> None:
        """Esc: drop the patient on screen and wait for the next scan."""
        self.claim.reset(None)
        self.stay_flow.reset()
        self.money.void()
        self.person_panel.show_person(None, "", "")
        self.scan.clear()
        self.focus_scan()

    def _dialog_closed(self) -> None:
        """Back to the counter: the window takes the keyboard again, so F-keys keep working."""
        self.activateWindow()
        self.focus_scan()

    def focus_scan(self) -> None:
        self.scan_bar.focus()

    def focus_search(self) -> None:
        self.claim.focus()

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

        db = self.db
        self.desk.run(lambda: sync_status(db)).success(done).failure(
            lambda e: self.status_sync.setText("上传：状态不可用")
        ).run()
