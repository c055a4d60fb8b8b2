"""A person's account statement as PDF (A4, CJK font embedded): every entry by value date with the
running balance, from the balance brought forward to the balance at the end (services/statement.py)."""

from __future__ import annotations

from reportlab.platypus import Paragraph, Spacer, TableStyle

from ..engine.money import fmt
from ..services.statement import KIND_NAMES, Statement
from .agency_reports import _build, _table
from .pdf import _styles


def statement_pdf(s: Statement) -> bytes:
    st = _styles(10)
    font = st["body"].fontName
    rows = [
        ["记账日期", "业务", "摘要", "金额", "余额"],
        [s.start.isoformat(), "期初余额", "", "", fmt(s.brought_forward)],
    ]
    rows += [
        [
            line.value_date.strftime("%Y-%m-%d"),
            KIND_NAMES.get(line.kind, line.kind),
            Paragraph(line.note, st["small"]),
            fmt(line.amount),
            fmt(line.balance),
        ]
        for line in s.lines
    ]
    rows.append([s.end.isoformat(), "期末余额", "", "", fmt(s.closing)])
    check = (
        "逐笔累计与账户余额一致。"
        if s.ties
        else f"逐笔累计 {fmt(s.closing)} 与账户余额 {fmt(s.account_balance)} 不一致，请核查！"
    )
    closed = f"账户已于 {s.closed_on} 销户（本金与利息已支付，WH-10）。" if s.closed_on else ""
    table = _table(rows, [0.14, 0.14, 0.44, 0.14, 0.14], font, total_row=True)
    table.setStyle(TableStyle([("ALIGN", (2, 0), (2, -1), "LEFT")]))  # the note reads left to right
    story = [
        Paragraph("职工医保个人账户明细（对账单）", st["title"]),
        Paragraph(f"姓名 {s.name}　身份证号 {s.masked_certno}　人员编号 {s.psn_no}", st["body"]),
        Paragraph(f"期间 {s.start} 至 {s.end}（按记账日期，利息记于所属年度末日）", st["body"]),
        Spacer(1, 8),
        table,
        Spacer(1, 6),
        Paragraph(check + closed, st["small"]),
    ]
    return _build(story, f"个人账户明细 {s.psn_no}")
