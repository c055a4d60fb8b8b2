"""Pick an earlier settlement to reprint or refund; a supervisor approves a refund here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...engine.money import fmt
from ..counter.widgets import label as _label
from ..ops import Op
from ..qt import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    named,
)

if TYPE_CHECKING:
    from ..counter.desk import Desk


class SettlementDialog(QDialog):
    """Pick an earlier settlement and see what it paid; for a refund, a supervisor signs in here.

    Non-modal to the application (desk-modal), so the cashier's keyboard flow and the tests
    drive it the same way: type, Enter, fill in, OK.
    """

    def __init__(self, desk: Desk, title: str, *, approval: bool, setl_no: str) -> None:
        super().__init__(desk.window)
        self.desk = desk
        self.setWindowTitle(title)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setMinimumWidth(680)
        self.approval = approval
        form = QFormLayout(self)
        self.setl_no = named(QLineEdit(setl_no), "dialog_setl_no")
        self.setl_no.returnPressed.connect(self.load)
        form.addRow("结算单号", self.setl_no)
        self.summary = _label(name="dialog_summary")
        self.summary.setWordWrap(True)
        self.summary.setMinimumWidth(420)
        form.addRow("内容" if not approval else "将撤销", self.summary)
        self.reason = named(QLineEdit(), "refund_reason")
        self.staff_no = named(QLineEdit(), "approver_no")
        self.password = named(QLineEdit(), "approver_password")
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.to_cash = named(QCheckBox("全部退现金（不退回原支付方式）"), "refund_to_cash")
        self.lines = named(QListWidget(), "refund_lines")  # ticked: returned; untick to keep a line
        self.lines.setMaximumHeight(110)
        if approval:
            form.addRow("退回项目", self.lines)
            form.addRow("退费原因", self.reason)
            form.addRow("", self.to_cash)
            form.addRow("主管工号", self.staff_no)
            form.addRow("主管密码", self.password)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def load(self) -> None:
        """Show what the settlement paid (a refund reverses exactly this)."""
        setl_no = self.setl_no.text().strip()
        if not setl_no:
            return

        def describe() -> tuple[str, list]:
            from ...printing.slip import load_slip
            from ...services.partial_refund import lines_for

            slip = load_slip(self.desk.db, setl_no, copy=1)
            amounts = dict(slip.amounts)
            family = (
                "；".join(f"{p.masked_name}（{p.relation}）{fmt(p.paid)}" for p in slip.providers) or "无"
            )
            return (
                f"{slip.title} {slip.patient_name} {slip.settled_at:%Y-%m-%d %H:%M}\n"
                f"医疗费 {fmt(amounts['医疗费总额'])}，统筹基金 {fmt(amounts['统筹基金支付'])}，"
                f"个人账户 {fmt(slip.own_paid)}，家庭共济 {family}，现金 {fmt(slip.cash)}（{slip.tender}）"
            ), lines_for(self.desk.db, setl_no)

        def shown(found: tuple[str, list]) -> None:
            text, lines = found
            self.summary.setText(text)
            self.lines.clear()
            for code, name, quantity in lines:
                item = QListWidgetItem(f"{code} {name} × {quantity.normalize():f}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
                self.lines.addItem(item)

        Op(self.desk, describe).success(shown).failure(lambda e: self.summary.setText(str(e))).run()

    def accept(self) -> None:
        """Enter in a field of a half-filled refund moves to the next empty one; it closes only
        when the reason and the supervisor's number and password are all there (issue 27)."""
        if self.approval:
            for field in (self.setl_no, self.reason, self.staff_no, self.password):
                if not field.text().strip():
                    field.setFocus()
                    return
        super().accept()

    def returned(self) -> list[int]:
        """The positions of the lines ticked to return (all of them: a whole refund)."""
        return [
            n for n in range(self.lines.count()) if self.lines.item(n).checkState() == Qt.CheckState.Checked
        ]
