"""The supervisor's upload queue: pending and parked messages, and the centre's differences."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import labels
from ..counter.widgets import label as _label
from ..ops import Op
from ..qt import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    named,
)

if TYPE_CHECKING:
    from ..counter.desk import Desk


class OutboxDialog(QDialog):
    """The supervisor's view of what has not reached the centre: pending and parked messages,
    with the centre's reason, and a button to send a parked one again once it is put right."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(desk.window)
        self.desk = desk
        self.setWindowTitle("上传队列（未上传与挂起的报文）")
        self.setMinimumSize(900, 480)
        layout = QVBoxLayout(self)
        self.table = named(QTableWidget(0, 7), "outbox_table")
        self.table.setHorizontalHeaderLabels(
            ["状态", "交易", "结算单号", "参保人", "尝试次数", "原因", "报文号"]
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # the numbers are read whole
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)  # the reason takes what is left
        self.table.setWordWrap(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.table)
        self.message = _label(name="outbox_message")
        self.message.setStyleSheet("color: #b00020")
        layout.addWidget(self.message)
        row = QHBoxLayout()
        self.release_button = named(QPushButton("重新发送所选挂起报文"), "outbox_release")
        self.release_button.clicked.connect(self.release_selected)
        row.addWidget(self.release_button)
        self.void_button = named(QPushButton("作废所选挂起报文"), "outbox_void")
        self.void_button.clicked.connect(self.void_selected)
        row.addWidget(self.void_button)
        self.reason = named(QLineEdit(placeholderText="原因（必填，记入审计日志）"), "outbox_reason")
        row.addWidget(self.reason, 1)
        row.addStretch(1)
        close = QPushButton("关闭")
        close.clicked.connect(self.accept)
        row.addWidget(close)
        layout.addLayout(row)
        layout.addWidget(_label("医保中心结算结果与本地不同（本地结算不变，核对后标记）"))
        self.differences = named(QTableWidget(0, 4), "centre_differences")
        self.differences.setHorizontalHeaderLabels(["结算单号", "参保人", "结算时间", "差异（本地 → 中心）"])
        self.differences.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.differences.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.differences.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        layout.addWidget(self.differences)
        self.review_button = named(QPushButton("标记所选差异已核对（原因填在上方）"), "centre_review")
        self.review_button.clicked.connect(self.review_selected)
        layout.addWidget(self.review_button)
        self.entries: list = []
        self.found: list = []

    def load(self) -> None:
        from ...services.sync_status import unsent

        def show(entries: list) -> None:
            self.entries = entries
            self.table.setRowCount(len(entries))
            for n, e in enumerate(entries):
                for col, text in enumerate(
                    (
                        "挂起" if e.status == "parked" else "待传",
                        f"{labels.INFNO.get(e.infno, e.infno)}（{e.infno}）",
                        e.setl_no,
                        e.name,
                        str(e.attempts),
                        e.last_error or "",
                        e.msgid,
                    )
                ):
                    self.table.setItem(n, col, QTableWidgetItem(text))

        Op(self.desk, lambda: unsent(self.desk.db)).success(show).run()
        if self.desk.user.may("outbox"):
            self.load_differences()

    def load_differences(self) -> None:
        from ...services.sync_status import centre_differences

        def show(found: list) -> None:
            self.found = found
            self.differences.setRowCount(len(found))
            for n, d in enumerate(found):
                what = "，".join(
                    f"{labels.AMOUNT_NAMES.get(k, k)} {a} → {b}" for k, (a, b) in d.differences.items()
                )
                for col, text in enumerate((d.setl_no, d.name, f"{d.settled_at:%m-%d %H:%M}", what)):
                    self.differences.setItem(n, col, QTableWidgetItem(text))

        desk = self.desk
        Op(desk, lambda: centre_differences(desk.db, desk.settings.context)).success(show).run()

    def review_selected(self) -> None:
        from ...services.sync_status import review_difference

        row = self.differences.currentRow()
        if not 0 <= row < len(self.found):
            self.message.setText("标记已核对：请先选择一条差异")
            return
        setl_no, note, desk = self.found[row].setl_no, self.reason.text(), self.desk
        Op(desk, lambda: review_difference(desk.db, desk.settings.context, setl_no, note)).success(
            self._done
        ).failure(self._failed).run()

    def _decide(self, title: str, decision) -> None:
        """Resend or void the selected parked message with the reason typed; the service checks
        the permission and audits it."""
        row = self.table.currentRow()
        if not 0 <= row < len(self.entries) or self.entries[row].status != "parked":
            self.message.setText(f"{title}：请先选择一条挂起的报文")
            return
        msgid, reason, desk = self.entries[row].msgid, self.reason.text(), self.desk
        Op(desk, lambda: decision(desk.db, desk.settings.context, msgid, reason)).success(self._done).failure(
            self._failed
        ).run()

    def release_selected(self) -> None:
        from ...services.sync_status import release

        self._decide("重新发送", release)

    def void_selected(self) -> None:
        from ...services.sync_status import void

        self._decide("作废报文", void)

    def _done(self, _: object) -> None:
        self.message.setText("")
        self.reason.clear()
        self.load()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(str(exc))
