"""The family binding desk: a provider binds or unbinds relatives (HF-1..3, HF-6, WH-25).

The provider's current bindings and the HF-6 counts show as soon as their ID is entered; the
beneficiary's ID is typed twice; the commitment is printed for signature and ticked as signed;
proof files are picked and kept with their hash. Every refusal names its rule (services/binding).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from .. import labels
from ..policies import load_pack
from ..printing import commitment
from ..services import binding as svc
from ..services.binding import RELATION_NAMES, ProviderDesk
from ..services.errors import ServiceError
from ..services.settlement import institution_label
from .ops import Op
from .qt import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QtWidgets,
    QVBoxLayout,
    named,
)

NO_LIMIT = 99  # a pack's "no limit" (the Wuhu plan limits no count of children)


if TYPE_CHECKING:
    from .counter.desk import Desk


class BindingDesk(QDialog):
    def __init__(self, counter: Desk) -> None:
        super().__init__(counter.window)
        self.counter = counter
        self.setWindowTitle("家庭共济绑定（个人账户提供人办理）")
        self.setMinimumSize(860, 560)
        name, _level, policy = institution_label(counter.db, counter.settings.context.institution_code)
        self.institution, self.pack = name, load_pack(policy)
        self.desk: ProviderDesk | None = None
        self.proofs: list[svc.Proof] = []
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.provider = named(QLineEdit(), "provider_certno")
        self.provider.setPlaceholderText("提供人身份证号，回车查询")
        self.provider.returnPressed.connect(self.load)
        form.addRow("提供人身份证号", self.provider)
        self.provider_info = named(QLabel(), "provider_info")
        self.provider_info.setWordWrap(True)
        form.addRow("提供人", self.provider_info)
        self.limits = named(QLabel(), "binding_limits")
        form.addRow("绑定情况", self.limits)
        layout.addLayout(form)
        self.table = named(QTableWidget(0, 5), "bindings")
        self.table.setHorizontalHeaderLabels(["享受人", "身份证号", "关系", "绑定时间", "证明材料"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(170)
        layout.addWidget(self.table)
        self.unbind_button = named(QPushButton("解除所选绑定"), "unbind")
        self.unbind_button.clicked.connect(self.unbind)
        layout.addWidget(self.unbind_button, alignment=Qt.AlignmentFlag.AlignLeft)

        new = QFormLayout()
        self.beneficiary = named(QLineEdit(), "beneficiary_certno")
        self.beneficiary_again = named(QLineEdit(), "beneficiary_certno_again")
        self.relation = named(QComboBox(), "relation")
        for code in self.pack.family.relations:
            self.relation.addItem(RELATION_NAMES[code], code)
        if (
            self.pack.family.self_rule
        ):  # HF-2.1: one's own suspended employee account, for one's resident costs
            self.relation.addItem(f"本人（{self.pack.family.self_rule}）", "self")
        self.relation.currentIndexChanged.connect(self.show_limits)
        new.addRow("享受人身份证号", self.beneficiary)
        new.addRow("再次输入身份证号", self.beneficiary_again)
        new.addRow("享受人是提供人的", self.relation)
        proof_row = QHBoxLayout()
        self.proof_kind = named(QComboBox(), "proof_kind")
        for code, text in svc.PROOF_KINDS.items():
            self.proof_kind.addItem(text, code)
        proof_row.addWidget(self.proof_kind)
        add = named(QPushButton("添加证明材料…"), "add_proof")
        add.clicked.connect(self.pick_proofs)
        proof_row.addWidget(add)
        new.addRow("证明材料", proof_row)
        self.proof_list = named(QListWidget(), "proof_list")
        self.proof_list.setMaximumHeight(60)
        new.addRow("", self.proof_list)
        sign_row = QHBoxLayout()
        print_button = named(QPushButton("打印承诺书"), "print_commitment")
        print_button.clicked.connect(self.print_commitment)
        sign_row.addWidget(print_button)
        self.signed = named(QCheckBox("提供人已签署承诺书"), "commitment_signed")
        sign_row.addWidget(self.signed)
        new.addRow("承诺书", sign_row)
        layout.addLayout(new)
        buttons = QHBoxLayout()
        self.bind_button = named(QPushButton("确认绑定"), "bind")
        self.bind_button.clicked.connect(self.bind)
        buttons.addWidget(self.bind_button)
        buttons.addStretch(1)
        close = QPushButton("关闭")
        close.clicked.connect(self.accept)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        self.message = named(QLabel(), "desk_message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        self.last_commitment: Path | None = None
        self.commitment = None  # the commitment printed for signature (its text's digest goes on the binding)

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet("color: #b00020" if error else "color: #1b5e20")
        self.message.setText(text)

    def fail(self, exc: Exception) -> None:
        self.say(str(exc), error=True)

    def _unbound(self, _: object) -> None:
        self.say("已解除绑定")
        self.load()

    def load(self) -> None:
        certno = self.provider.text()
        if not certno.strip():
            return

        def show(desk: ProviderDesk) -> None:
            self.desk = desk
            account = "个人账户正常" if desk.account_open else "无可用个人账户"
            self.provider_info.setText(
                f"{desk.name}（{desk.masked_certno}），险种 {labels.INSUTYPE.get(desk.insutype, desk.insutype)}，"
                f"{account}"
            )
            self.table.setRowCount(len(desk.relatives))
            for n, r in enumerate(desk.relatives):
                for col, text in enumerate(
                    (
                        r.name,
                        r.masked_certno,
                        RELATION_NAMES[r.relation],
                        f"{r.bound_at:%Y-%m-%d}",
                        f"{r.proofs} 份",
                    )
                ):
                    self.table.setItem(n, col, QTableWidgetItem(text))
            self.show_limits()
            self.message.setText("")
            self.beneficiary.setFocus()

        Op(self.counter, lambda: svc.provider_desk(self.counter.db, self.pack, certno)).success(show).failure(
            self.fail
        ).run()

    def show_limits(self) -> None:
        """HF-6 as the clerk chooses the relation: how many of each are bound, against the limit."""
        desk = self.desk
        if desk is None:
            return

        def limit(n: int) -> str:
            return f"/{n}" if n < NO_LIMIT else "（不限）"

        counts = "，".join(
            f"{RELATION_NAMES[r]} {desk.counts.get(r, 0)}" + (limit(desk.limits[r]) if desk.limits else "")
            for r in self.pack.family.relations
        )
        total = sum(n for r, n in desk.counts.items() if r != "self")
        if desk.limits is None:
            self.limits.setText(f"{counts}；共 {total} 人（本政策未设绑定人数上限）")
            return
        chosen = self.relation.currentData()
        full = chosen != "self" and (
            desk.counts.get(chosen, 0) >= desk.limits.get(chosen, NO_LIMIT) or total >= (desk.max_total or 0)
        )
        warning = f"　{RELATION_NAMES[chosen]}已满，不能再绑定（{desk.limits_rule}）" if full else ""
        of_total = f"/{desk.max_total}" if (desk.max_total or 0) < NO_LIMIT else ""
        self.limits.setText(f"{counts}；共 {total}{of_total} 人{warning}")
        self.limits.setStyleSheet("color: #b00020" if full else "")

    def pick_proofs(self, paths: list[str] | None = None) -> None:
        if not paths:
            paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
                self,
                "选择证明材料（扫描件或照片）",
                "",
                "图片或 PDF (*.jpg *.jpeg *.png *.pdf);;所有文件 (*)",
            )
        for path in paths or []:
            try:
                content = Path(path).read_bytes()
            except OSError as exc:
                self.fail(ServiceError(f"无法读取 {path}：{exc}"))
                continue
            self.proofs.append(svc.Proof(self.proof_kind.currentData(), Path(path).name, content))
            self.proof_list.addItem(
                f"{self.proof_kind.currentText()}：{Path(path).name}（{len(content)} 字节）"
            )

    def print_commitment(self) -> None:
        if self.desk is None:
            self.fail(ServiceError("请先输入提供人身份证号并回车"))
            return
        provider, beneficiary, relation = (
            self.provider.text(),
            self.beneficiary.text(),
            self.relation.currentData(),
        )
        on = dt.date.today()

        def prepare():
            printed = svc.prepare_commitment(
                self.counter.db, self.pack, provider, beneficiary, relation, self.institution, on
            )
            return printed, commitment.render(printed.text)

        Op(self.counter, prepare).success(self._commitment_printed).failure(self.fail).run()

    def _commitment_printed(self, result) -> None:
        printed, data = result
        self.commitment = printed
        folder = self.counter.settings.slip_dir
        folder.mkdir(parents=True, exist_ok=True)
        self.last_commitment = folder / f"commitment-{dt.datetime.now():%Y%m%d%H%M%S}.pdf"
        self.last_commitment.write_bytes(data)
        self.say(f"承诺书已生成：{self.last_commitment.name}，请提供人签字")

    def bind(self) -> None:
        printed = self.commitment
        request = svc.BindRequest(
            self.provider.text(),
            self.beneficiary.text(),
            self.beneficiary_again.text(),
            self.relation.currentData(),
            self.signed.isChecked(),
            tuple(self.proofs),
            printed.institution if printed else "",
            printed.on if printed else None,
            printed.sha256 if printed else None,
        )
        proof_dir = self.counter.settings.slip_dir.parent / "proofs"
        actor = self.counter.settings.context

        def done(_binding_id: int) -> None:
            self.say("绑定成功")
            self.beneficiary.clear()
            self.beneficiary_again.clear()
            self.signed.setChecked(False)
            self.proofs.clear()
            self.proof_list.clear()
            self.load()

        Op(self.counter, lambda: svc.bind(self.counter.db, actor, self.pack, request, proof_dir)).success(
            done
        ).failure(self.fail).run()

    def unbind(self) -> None:
        row = self.table.currentRow()
        if self.desk is None or not 0 <= row < len(self.desk.relatives):
            return
        binding_id, certno = self.desk.relatives[row].binding_id, self.provider.text()
        Op(
            self.counter,
            lambda: svc.unbind(self.counter.db, self.counter.settings.context, binding_id, certno),
        ).success(self._unbound).failure(self.fail).run()
