"""The shift report (交班报表) as PDF: drawer count, totals by payer, tender and medical type."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .. import labels
from ..engine.money import fmt
from ..services.shift import ShiftReport
from ..services.tenders import TENDERS
from .pdf import FRAME_PADDING, _styles


def render(report: ShiftReport, institution: str) -> bytes:
    st = _styles(9)
    t = report.totals
    out = io.BytesIO()
    margin = 12 * mm
    width = A5[0] - 2 * margin - 2 * FRAME_PADDING
    grid = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), st["body"].fontName),
            ("FONTSIZE", (0, 0), (-1, -1), 8.5),
            ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, "black"),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
        ]
    )

    def table(rows: list[list[str]], widths: list[float]) -> Table:
        return Table(rows, colWidths=[width * w for w in widths], style=grid)

    story = [
        Paragraph(institution, st["center"]),
        Paragraph("收费员交班报表", st["title"]),
        Paragraph(f"窗口 {report.counter}　收费员 {report.cashier}　班次 {report.shift_id}", st["body"]),
        Paragraph(
            f"开班 {report.opened_at:%Y-%m-%d %H:%M}　交班 {report.closed_at:%Y-%m-%d %H:%M}", st["body"]
        ),
        Spacer(1, 3 * mm),
        table(
            [
                ["现金清点", "金额"],
                ["备用金", fmt(report.opening_float)],
                ["应有现金", fmt(report.expected_cash)],
                ["实点现金", fmt(report.counted_cash)],
                ["差额（实点 − 应有）", fmt(report.difference)],
            ],
            [0.6, 0.4],
        ),
        Spacer(1, 3 * mm),
        table(
            [
                ["按支付方", "金额"],
                ["结算笔数 / 退费笔数", f"{t.settlements} / {t.refunds}"],
                ["医疗费总额", fmt(t.medfee)],
                ["统筹基金", fmt(t.fund)],
                ["个人账户", fmt(t.own_accounts)],
                ["家庭共济账户", fmt(t.family_accounts)],
                *[
                    [f"个人现金部分（{TENDERS.get(k, k)}）", fmt(v)]
                    for k, v in sorted(t.cash_by_tender.items())
                ],
                *[
                    [f"住院押金净额（{TENDERS.get(k, k)}）", fmt(v)]
                    for k, v in sorted(t.deposits_by_tender.items())
                ],
                ["账户合计与账户流水核对", "一致" if t.ties_to_ledger else "不一致！"],
            ],
            [0.6, 0.4],
        ),
        Spacer(1, 3 * mm),
        table(
            [["医疗类别", "医疗费", "统筹", "账户", "现金"]]
            + [
                [
                    labels.MED_TYPE.get(m, m),
                    fmt(v["medfee"]),
                    fmt(v["fund"]),
                    fmt(v["accounts"]),
                    fmt(v["cash"]),
                ]
                for m, v in sorted(t.by_med_type.items())
            ],
            [0.32, 0.17, 0.17, 0.17, 0.17],
        ),
        Spacer(1, 3 * mm),
        Paragraph(
            "退费已按负数计入以上各项合计。"
            + (f"交班时仍有 {report.pending_upstream} 笔未上传医保中心。" if report.pending_upstream else ""),
            st["small"],
        ),
        *(
            [Paragraph(f"审计锚点 {report.anchor}（随报表留存，供审计核验）", st["small"])]
            if report.anchor
            else []
        ),
        Spacer(1, 8 * mm),
        Paragraph("收费员签字：＿＿＿＿＿＿　　主管签字：＿＿＿＿＿＿", st["body"]),
    ]
    doc = SimpleDocTemplate(
        out,
        pagesize=A5,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title="收费员交班报表",
    )
    doc.build(story)
    return out.getvalue()
