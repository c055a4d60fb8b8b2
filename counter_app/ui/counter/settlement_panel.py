"""The split the patient is shown before confirming: fund, accounts, family accounts, cash."""
from __future__ import annotations


from ... import labels
from ...engine.money import fmt
from ...services import settlement as svc
from ...services.shift import TENDERS
from ..qt import (
    QComboBox, QGridLayout,
    QGroupBox, QHBoxLayout, QLabel, Qt, QVBoxLayout,
)

from .widgets import label as _label


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
