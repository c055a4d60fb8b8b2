"""The agency's printable reports as PDF (A4, CJK font embedded): the monthly declaration
(WH-28) and the monitoring report with its charts (WH-31, WH-32)."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .. import labels
from ..batch.declaration import AMOUNTS, KIND_LABELS, Declaration
from ..batch.monitoring import INDICATOR_LABELS, MonitoringReport
from ..engine.money import fmt
from .charts import indicators_chart, visits_chart
from .pdf import FRAME_PADDING, _styles

MARGIN = 15 * mm
WIDTH = A4[0] - 2 * MARGIN - 2 * FRAME_PADDING


def _table(rows: list[list[str]], widths: list[float], font: str, *, total_row: bool = False) -> Table:
    style = [
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, "black"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if total_row:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 0.6, "black"))
    return Table(rows, colWidths=[WIDTH * w for w in widths], style=TableStyle(style), repeatRows=1)


def _build(story: list, title: str) -> bytes:
    out = io.BytesIO()
    SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
    ).build(story)
    return out.getvalue()


def declaration_pdf(decl: Declaration) -> bytes:
    st = _styles(10)
    font = st["body"].fontName
    head = ["医疗类别", "业务", "笔数", "医疗费总额", "基金支付", "个人账户(本人)", "家庭共济", "现金"]
    rows = [head]
    for line in decl.summary_lines:
        rows.append(
            [
                labels.MED_TYPE.get(line.med_type, "合计") if line.med_type else "合计",
                KIND_LABELS[line.kind],
                str(line.count),
                *(fmt(getattr(line, a)) for a in AMOUNTS),
            ]
        )
    story = [
        Paragraph(decl.institution_name, st["center"]),
        Paragraph(f"{decl.period} 医保结算月度申报表", st["title"]),
        Paragraph(
            f"定点机构编码 {decl.institution_code}　申报月份 {decl.period}（按营业日）　依据 WH-28",
            st["body"],
        ),
        Spacer(1, 4 * mm),
        _table(rows, [0.14, 0.07, 0.07, 0.15, 0.14, 0.16, 0.13, 0.14], font, total_row=True),
        Spacer(1, 4 * mm),
        _table(
            [
                ["个人账户划扣核对", "申报", "账户流水", "结果"],
                [
                    "个人账户（本人）",
                    fmt(decl.total.own_account),
                    fmt(decl.ledger_own),
                    "一致" if decl.ledger_own == decl.total.own_account else "不一致！",
                ],
                [
                    "家庭共济账户",
                    fmt(decl.total.family_account),
                    fmt(decl.ledger_family),
                    "一致" if decl.ledger_family == decl.total.family_account else "不一致！",
                ],
            ],
            [0.34, 0.22, 0.22, 0.22],
            font,
        ),
        Spacer(1, 3 * mm),
        Paragraph(
            "退费以负数列示；净额 = 结算 + 退费，净笔数 = 结算笔数 − 退费笔数；明细见同名 CSV（每笔一行）。"
            "申请结算金额：个人账户划扣 "
            f"{fmt(decl.total.accounts)} 元，统筹基金记账 {fmt(decl.total.fund)} 元。",
            st["small"],
        ),
        Spacer(1, 12 * mm),
        Paragraph("经办人：＿＿＿＿＿＿　　机构负责人：＿＿＿＿＿＿　　（机构盖章）", st["body"]),
    ]
    return _build(story, f"月度申报 {decl.institution_code} {decl.period}")


def monitoring_pdf(report: MonitoringReport) -> bytes:
    st = _styles(10)
    font = st["body"].fontName
    rows = [["机构", "门诊人次", "上月", "环比", "住院人次", "门诊/住院", "统筹笔数", "限额占比"]]
    for r in report.institutions:
        rows.append(
            [
                Paragraph(r.name, st["small"]),
                str(r.visits),
                str(r.previous_visits),
                f"{r.growth * 100:.1f}%" if r.growth is not None else "—",
                str(r.inpatient_stays),
                str(r.outpatient_per_inpatient) if r.outpatient_per_inpatient is not None else "—",
                str(r.pooling_payments),
                f"{r.cap_share * 100:.1f}%" if r.cap_share is not None else "—",
            ]
        )
    anomalies = [["指标", "机构", "数值", "阈值", "说明"]] + [
        [
            INDICATOR_LABELS[a.indicator] + f"（{a.rule}）",
            Paragraph(a.institution_name, st["small"]),
            a.value,
            a.threshold,
            Paragraph(a.detail, st["small"]),
        ]
        for a in report.anomalies
    ]
    story = [
        Paragraph(f"{report.period} 门诊共济与个人账户基金监测", st["title"]),
        Paragraph(
            "依据 WH-31（人次增长、按限额支付占比、个人账户使用）与 WH-32（门诊住院人次比）；阈值见 "
            "resources/monitoring/thresholds.toml。",
            st["small"],
        ),
        Spacer(1, 3 * mm),
        Image(io.BytesIO(visits_chart(report)), width=WIDTH, height=WIDTH * 3.2 / 7.0),
        Spacer(1, 2 * mm),
        Image(io.BytesIO(indicators_chart(report)), width=WIDTH, height=WIDTH * 3.0 / 7.0),
        Spacer(1, 3 * mm),
        _table(rows, [0.30, 0.09, 0.08, 0.09, 0.09, 0.11, 0.11, 0.13], font),
        Spacer(1, 4 * mm),
        Paragraph(
            f"异常 {len(report.anomalies)} 项" if report.anomalies else "本月未发现超过阈值的异常", st["body"]
        ),
        Spacer(1, 2 * mm),
    ]
    if report.anomalies:
        story.append(_table(anomalies, [0.2, 0.26, 0.14, 0.14, 0.26], font))
    if report.over_limit:
        names = {**labels.RELATION, "total": "合计"}
        story.append(Spacer(1, 3 * mm))
        story.append(
            Paragraph(
                "超出所属政策绑定上限的提供人："
                + "；".join(
                    f"{o.name}（{o.psn_no}，{o.policy}）{names[o.relation]} {o.count} 人，上限 {o.limit}（{o.rule}）"
                    for o in report.over_limit
                ),
                st["small"],
            )
        )
    story.append(Spacer(1, 3 * mm))
    story.append(
        Paragraph(
            "未能监测的指标（WH-32）："
            + "；".join(f"{indicator}——{needs}" for _rule, indicator, needs in report.not_measured),
            st["small"],
        )
    )
    return _build(story, f"基金监测 {report.period}")
