"""Opening and closing a shift at the drawer, and closing the business day."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...engine.money import fmt
from ...services.shift import HeldShift, ShiftState, shift_state
from ...services.tenders import TENDERS
from ..counter.widgets import label as _label
from ..ops import Op
from ..qt import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    Qt,
    named,
)

if TYPE_CHECKING:
    from ..counter.desk import Desk


class OpenShiftDialog(QDialog):
    """No money is taken before the shift is opened with the drawer's cash float; a refusal is said
    in the dialog itself, not behind it."""

    def __init__(self, desk: Desk, problem: str = "") -> None:
        super().__init__(desk.window)
        self.desk = desk
        self.setWindowTitle("开班")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        form.addRow(_label(f"{desk.user.name}，请清点备用金后开班（{desk.settings.context.counter}）"))
        self.problem = _label(problem, name="open_shift_problem")
        self.problem.setStyleSheet("color: #b00020")
        form.addRow(self.problem)
        self.opening_float = named(QLineEdit("0.00"), "opening_float")
        form.addRow("备用金", self.opening_float)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.opening_float.setFocus()
        self.opening_float.selectAll()


class HandoverDialog(QDialog):
    """Another cashier left a shift open at this counter: who and since when, and a supervisor may
    close it here with the drawer's count (issue 27). Cancel leaves it for that cashier to close."""

    def __init__(self, desk: Desk, held: HeldShift, problem: str = "") -> None:
        super().__init__(desk.window)
        self.held = held
        self.setWindowTitle("交接班")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(460)
        form = QFormLayout(self)
        form.addRow(
            _label(
                f"{held.describe()}。请原收费员登录交班，或由收费主管清点钱箱后代为交班。",
                name="handover_who",
            )
        )
        self.problem = _label(problem, name="handover_problem")
        self.problem.setStyleSheet("color: #b00020")
        form.addRow(self.problem)
        self.supervisor = named(QLineEdit(), "handover_supervisor")
        self.password = named(QLineEdit(), "handover_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.counted = named(QLineEdit(), "handover_counted")
        self.counted.setPlaceholderText("钱箱实点现金，如 1280.50")
        form.addRow("主管工号", self.supervisor)
        form.addRow("主管密码", self.password)
        form.addRow("实点现金", self.counted)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("主管代为交班")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("由原收费员交班")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.supervisor.setFocus()


class DayCloseDialog(QDialog):
    def __init__(self, desk: Desk) -> None:
        super().__init__(desk.window)
        self.setWindowTitle("日结")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        form = QFormLayout(self)
        form.addRow(_label("日结后当日不能再结算，之后的结算计入次日"))
        self.day = named(QLineEdit(desk.settings.visit_date().isoformat()), "close_day")
        form.addRow("营业日", self.day)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        self.day.setFocus()


class CloseShiftDialog(QDialog):
    """Count the drawer against what the shift's settlements, refunds and deposits say."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(desk.window)
        self.desk = desk
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
        self.acknowledge = named(QCheckBox("已知晓以上未上传报文，仍然交班"), "shift_acknowledge")
        self.acknowledge.hide()
        form.addRow(self.acknowledge)
        self.counted = named(QLineEdit(), "counted_cash")
        form.addRow("实点现金", self.counted)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
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
            tenders = (
                "，".join(f"{TENDERS.get(k, k)} {fmt(v)}" for k, v in sorted(t.cash_by_tender.items()))
                or "无"
            )
            self.summary.setText(
                f"结算 {t.settlements} 笔，退费 {t.refunds} 笔；医疗费 {fmt(t.medfee)}，统筹 {fmt(t.fund)}，"
                f"个人账户 {fmt(t.own_accounts)}，家庭共济 {fmt(t.family_accounts)}；个人现金部分：{tenders}；"
                f"备用金 {fmt(state.opening_float)}"
                + ("" if t.ties_to_ledger else "；账户合计与流水不一致！")
            )
            self.expected.setText(fmt(state.expected_cash))
            if state.unsent:
                self.pending.setText(
                    f"还有 {len(state.unsent)} 笔未上传医保中心："
                    + "；".join(
                        f"{e.setl_no} {e.name}（{'挂起' if e.status == 'parked' else '待传'}）"
                        for e in state.unsent[:8]
                    )
                    + ("…" if len(state.unsent) > 8 else "")
                )
                self.acknowledge.show()
            self.counted.setFocus()

        Op(self.desk, lambda: shift_state(self.desk.db, self.desk.settings.context)).success(show).run()
