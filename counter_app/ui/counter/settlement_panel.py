"""The split the patient is shown before confirming, and after: one list of label | amount, every
amount right-aligned in one column, the payers in large type, each family provider under 家庭共济支付;
then the cash part with how it is paid, what was tendered and the change. After F9 the same split
stays, marked 已结算 with its settlement number, until the next scan or Esc."""

from __future__ import annotations

from decimal import Decimal

from ... import labels
from ...engine.money import ZERO, MoneyError, fmt, parse_money
from ...services import settlement as svc
from ...services.errors import ServiceError
from ...services.self_pay import SelfPayPreview
from ...services.tenders import TENDERS
from ..qt import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    Qt,
    QVBoxLayout,
    Signal,
    named,
)
from .widgets import label as _label
from .widgets import money_text

SMALL = (
    ("medfee", "医疗费总额"),
    ("inscp", "符合范围金额"),
    ("fulamt", "全自费"),
    ("prepay", "先行自付"),
    ("deductible", "本次起付线"),
    ("copay", "统筹共付（个人）"),
)
LARGE = (("fund", "统筹基金支付"), ("own", "个人账户支付"), ("mulaid", "家庭共济支付"))
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _sized(label: QLabel, factor: float, bold: bool = False) -> QLabel:
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * factor)
    font.setBold(bold)
    label.setFont(font)
    label.setProperty("base_points", font.pointSizeF())  # what `scale` multiplies
    return label


class PreviewPanel(QGroupBox):
    """Who pays what. `values[key]` holds each amount; `cash`, `tendered`, `change` the drawer's.
    `changed` fires whenever what it shows changes (the customer display mirrors it)."""

    changed = Signal()

    def __init__(self) -> None:
        super().__init__("预结算（请向参保人确认）")
        layout = QVBoxLayout(self)
        layout.setSpacing(2)  # compact: the whole window fits 1366×728 (a 1366×768 desktop minus its taskbar)
        layout.setContentsMargins(8, 4, 8, 4)
        self.status = _label(name="settled_status")  # 已结算 … once settled
        self.status.setStyleSheet("color: #1b5e20; font-weight: bold")
        layout.addWidget(self.status)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(0, 1)
        self.grid.setVerticalSpacing(0)
        self.values: dict[str, QLabel] = {}
        row = 0
        for key, title in SMALL:
            row = self._row(row, key, title, 1.0)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        self.grid.addWidget(line, row, 0, 1, 2)
        row += 1
        for key, title in LARGE:
            row = self._row(row, key, title, 1.35, bold=True)
        self.family_row = row - 1  # providers are listed under 家庭共济支付
        layout.addLayout(self.grid)
        self.family = _label(name="preview_family")  # each provider: name, relation, paid, balance after
        self.family.setWordWrap(True)
        self.family.setAlignment(RIGHT)
        layout.addWidget(self.family)
        cash = QHBoxLayout()
        self.cash_title = _sized(_label("现金支付", name="preview_cash_title"), 2.0, True)
        cash.addWidget(self.cash_title, 1)
        self.tender = named(QComboBox(), "tender")
        for code, name in TENDERS.items():
            self.tender.addItem(name, code)
        self.tender.setMaximumWidth(120)
        self.tender.currentIndexChanged.connect(self._update_change)
        cash.addWidget(self.tender)
        # a bill paid by several means: the card and app amounts typed here, the rest in cash
        self.split: dict[str, QLineEdit] = {}
        for code in ("card", "wechat", "alipay"):
            field = named(QLineEdit(placeholderText=TENDERS[code]), f"split_{code}")
            field.setAlignment(RIGHT)
            field.setMaximumWidth(80)
            field.setToolTip(f"组合支付：{TENDERS[code]}金额，其余为现金")
            field.textChanged.connect(self._update_change)
            self.split[code] = field
            cash.addWidget(field)
        self.cash = _sized(_label("", name="preview_cash"), 2.2, True)
        self.cash.setAlignment(RIGHT)
        cash.addWidget(self.cash, 1)
        layout.addLayout(cash)
        drawer = QHBoxLayout()
        drawer.addWidget(QLabel("实收"))
        self.tendered = named(QLineEdit(placeholderText="收取金额（现金）"), "tendered")
        self.tendered.setAlignment(RIGHT)
        self.tendered.setMaximumWidth(160)
        self.tendered.textChanged.connect(self._update_change)
        drawer.addWidget(self.tendered)
        self.rest_cash = _label("", name="rest_cash")
        drawer.addWidget(self.rest_cash)
        drawer.addStretch(1)
        drawer.addWidget(_sized(QLabel("找零"), 1.5, True))
        self.change = _sized(_label("", name="change"), 1.8, True)
        self.change.setAlignment(RIGHT)
        drawer.addWidget(self.change)
        layout.addLayout(drawer)
        self.reason = _label(name="preview_reason")
        self.reason.setWordWrap(True)
        layout.addWidget(self.reason)
        self.notice = _label(name="preview_notice")
        self.notice.setStyleSheet("color: #b00020; font-weight: bold")
        self.notice.setWordWrap(True)
        layout.addWidget(self.notice)
        self.due = ZERO

    def _row(self, row: int, key: str, title: str, factor: float, bold: bool = False) -> int:
        self.grid.addWidget(_sized(QLabel(title), factor, bold), row, 0)
        self.values[key] = _sized(_label(name=f"preview_{key}"), factor, bold)
        self.values[key].setAlignment(RIGHT)
        self.grid.addWidget(self.values[key], row, 1)
        return row + 1

    def scale(self, factor: float) -> None:
        """Amounts grow with the screen: at 1366×728 factor 1, at 1920×1080 about 1.4."""
        for label in self.findChildren(QLabel):  # the amounts, cash and change among them
            base = label.property("base_points")
            if base is None:
                base = label.font().pointSizeF()
                label.setProperty("base_points", base)
            font = label.font()
            font.setPointSizeF(base * factor)
            label.setFont(font)

    def show_preview(
        self, pv: svc.Preview | SelfPayPreview | None, provider_names: dict[str, str], notice: str = ""
    ) -> None:
        self.notice.setText(notice)
        self.status.setText("")
        self.setTitle("预结算（请向参保人确认）")
        if pv is None:
            for label in (*self.values.values(), self.family, self.cash, self.reason, self.change):
                label.setText("")
            self.tendered.clear()
            for field in self.split.values():
                field.clear()
            self.due = ZERO
            self.changed.emit()
            return
        r = pv.result
        shown = {
            "medfee": r.medfee_sumamt,
            "inscp": r.inscp_scp_amt,
            "fulamt": r.fulamt_ownpay_amt,
            "prepay": r.preselfpay_amt,
            "deductible": r.act_pay_dedc,
            "copay": r.inscp_scp_amt - r.act_pay_dedc - r.hifp_pay,
            "fund": r.fund_pay_sumamt,
            "own": r.own_acct_pay,
            "mulaid": r.acct_mulaid_pay,
        }
        for key, value in shown.items():
            self.values[key].setText(fmt(value))
        if r.overlmt_selfpay:  # the part above a catalogue price cap (1318), shown without a row of its own
            self.values["fulamt"].setText(
                f"{fmt(r.fulamt_ownpay_amt)}（另超限价自付 {fmt(r.overlmt_selfpay)}）"
            )
        self.family.setText(
            "\n".join(
                f"{labels.mask_name(provider_names.get(d.psn_no, d.psn_no))}（{labels.RELATION[d.relation]}）"
                f"支付 {fmt(d.paid)}，余额 {fmt(d.balc)}"
                for d in r.mulaid
            )
        )
        self.cash_title.setText("现金支付")
        self.cash.setStyleSheet("")
        self.cash.setText(fmt(r.psn_cash_pay))
        self.due = r.psn_cash_pay
        self._update_change()
        words, rules = labels.without_rule_ids(labels.pooling_reason(r.pooling_reason, r.pooling_applies))
        self.reason.setText(f"{labels.pooling_title(r.pooling_reason)}：{words}")
        self.reason.setToolTip(f"依据：{rules}" if rules else "")  # the rule ids, for the supervisor
        self.changed.emit()

    def show_due(self, title: str, amount: Decimal, *, refund: bool = False) -> None:
        """The big figure when it is not the cash part: a discharge's 应补收 or 出院应退还."""
        self.cash_title.setText(title)
        self.cash.setText(fmt(amount))
        self.cash.setStyleSheet("color: #b00020" if refund else "")
        self.due = ZERO if refund else amount
        self._update_change()

    def show_settled(self, setl_no: str) -> None:
        """The split just settled stays for the patient to see, marked so, until the next scan or Esc."""
        self.setTitle("本次结算")
        self.status.setText(f"已结算　结算单号 {setl_no}")
        self.changed.emit()

    def tendered_amount(self) -> Decimal | None:
        """What the patient handed over in cash (None when not typed); a bad amount raises MoneyError."""
        text = self.tendered.text().strip()
        return parse_money(text) if text else None

    def paid_by(self) -> list[tuple[str, Decimal]]:
        """The card and app amounts typed for a bill paid by several means (empty: one means); a bad
        amount raises ServiceError naming the field."""
        return [
            (code, money_text(field.text(), TENDERS[code]))
            for code, field in self.split.items()
            if field.text().strip()
        ]

    def _cash_due(self, split: list[tuple[str, Decimal]]) -> Decimal | None:
        """The cash still to take: all of the cash part by cash, the balance after card and apps
        (`split`, as `paid_by` read it), or None when it is paid by one other means."""
        if split:
            return self.due - sum((a for _, a in split), ZERO)
        return self.due if self.tender.currentData() == "cash" else None

    def _update_change(self) -> None:
        self._change_text()
        self.changed.emit()

    def _change_text(self) -> None:
        try:
            split = self.paid_by()
        except ServiceError:
            self.rest_cash.setText("金额有误")
            self.change.setText("")
            return
        due = self._cash_due(split)
        self.rest_cash.setText(
            ("其余现金 " + fmt(due) if due is not None and due >= 0 else "超过应收现金") if split else ""
        )
        if due is None or due < 0:
            self.change.setText("")
            return
        try:
            given = self.tendered_amount()
        except MoneyError:
            self.change.setText("金额有误")
            return
        if given is None:
            self.change.setText("")
        elif given < due:
            self.change.setText(f"还差 {fmt(due - given)}")
        else:
            self.change.setText(fmt(given - due))
