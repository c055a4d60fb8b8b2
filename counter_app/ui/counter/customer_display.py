"""The patient's side of the counter: where a second screen faces the patient, a window there shows
the amount due, what was tendered and the change, and who pays what, in large type. It mirrors
the settlement panel (turned on in settings: `CounterSettings.customer_display`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..qt import QGridLayout, QGuiApplication, QLabel, Qt, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from .settlement_panel import PreviewPanel

ROWS = (
    ("medfee", "医疗费总额"),
    ("fund", "统筹基金支付"),
    ("own", "个人账户支付"),
    ("mulaid", "家庭共济支付"),
)


def _big(label: QLabel, points: int, bold: bool = True) -> QLabel:
    font = label.font()
    font.setPointSize(points)
    font.setBold(bold)
    label.setFont(font)
    return label


class CustomerDisplay(QWidget):
    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint)
        self.setObjectName("customer_display")
        self.setWindowTitle("顾客显示屏")
        self.setStyleSheet("background: #0b3d2e; color: white")
        layout = QVBoxLayout(self)
        self.heading = _big(QLabel("欢迎光临"), 28)
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.heading)
        grid = QGridLayout()
        self.values: dict[str, QLabel] = {}
        for n, (key, title) in enumerate(ROWS):
            grid.addWidget(_big(QLabel(title), 22, False), n, 0)
            self.values[key] = _big(QLabel(""), 26)
            self.values[key].setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(self.values[key], n, 1)
        row = len(ROWS)
        for key, title in (("cash", "应付现金"), ("tendered", "实收"), ("change", "找零")):
            grid.addWidget(_big(QLabel(title), 30), row, 0)
            self.values[key] = _big(QLabel(""), 40)
            self.values[key].setAlignment(Qt.AlignmentFlag.AlignRight)
            grid.addWidget(self.values[key], row, 1)
            row += 1
        layout.addLayout(grid)
        layout.addStretch(1)

    def mirror(self, panel: PreviewPanel) -> None:
        """What the patient sees follows the cashier's panel: the split, the cash, the change."""
        for key in ("medfee", "fund", "own", "mulaid"):
            self.values[key].setText(panel.values[key].text())
        self.values["cash"].setText(panel.cash.text())
        self.values["tendered"].setText(panel.tendered.text() if panel.tender.currentData() == "cash" else "")
        self.values["change"].setText(panel.change.text())
        settled = panel.status.text()
        self.heading.setText(
            "已结算，谢谢" if settled else ("请核对以下金额" if panel.cash.text() else "欢迎光临")
        )

    @staticmethod
    def open_beside(window: QWidget) -> CustomerDisplay | None:
        """On a screen other than the cashier's, filling it; none when there is only one screen."""
        own = window.screen()
        others = [s for s in QGuiApplication.screens() if s is not own and s.geometry() != own.geometry()]
        if not others:
            return None
        display = CustomerDisplay()
        display.setGeometry(others[0].geometry())
        display.show()
        return display
