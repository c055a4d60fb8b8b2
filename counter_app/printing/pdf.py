"""Slips as PDF (reportlab), with the CJK font embedded so any machine shows every character.

Two layouts: an 80 mm thermal roll whose height follows the content, and A5. Long names wrap
(wordWrap="CJK"), they never run off the roll.
"""

from __future__ import annotations

import functools
import io
from decimal import Decimal

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..engine.money import fmt
from ..resources import resource_dir
from .slip import Slip, fmt_or_dash

FONT = "WenQuanYiMicroHei"
LAYOUTS = ("thermal80", "a5")


@functools.cache
def register_font() -> str:
    """Embed WenQuanYi Micro Hei (TrueType outlines, so reportlab embeds a subset)."""
    path = resource_dir() / "fonts" / "wqy-microhei.ttc"
    pdfmetrics.registerFont(TTFont(FONT, str(path), subfontIndex=0))
    return FONT


def _styles(base: float) -> dict[str, ParagraphStyle]:
    font = register_font()
    body = ParagraphStyle("body", fontName=font, fontSize=base, leading=base * 1.3, wordWrap="CJK")
    return {
        "body": body,
        "title": ParagraphStyle(
            "title", parent=body, fontSize=base * 1.4, leading=base * 1.8, alignment=TA_CENTER
        ),
        "center": ParagraphStyle("center", parent=body, alignment=TA_CENTER),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", parent=body, fontSize=base * 0.85, leading=base * 1.1),
        "big": ParagraphStyle("big", parent=body, fontSize=base * 1.5, leading=base * 1.9),
        "bigright": ParagraphStyle(
            "bigright", parent=body, fontSize=base * 1.5, leading=base * 1.9, alignment=TA_RIGHT
        ),
        "stamp": ParagraphStyle(
            "stamp",
            parent=body,
            fontSize=base * 1.3,
            leading=base * 1.7,
            alignment=TA_CENTER,
            textColor=colors.red,
        ),
    }


class _Rule(Flowable):
    """A dashed line across the slip."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width, self.height = width, 2 * mm

    def draw(self) -> None:
        self.canv.setDash(1, 2)
        self.canv.line(0, self.height / 2, self.width, self.height / 2)


def _rows(rows: list[tuple[str, str]], width: float, st: dict, *, left: float = 0.62) -> Table:
    data = [[Paragraph(a, st["body"]), Paragraph(b, st["right"])] for a, b in rows]
    table = Table(data, colWidths=[width * left, width * (1 - left)])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return table


def _grid(rows: list[tuple[str, str]], width: float, st: dict, label: float = 0.6) -> Table:
    """Two label/value pairs per row: the A5 sheet is wide enough, and the slip stays one page.
    `label` is the label's share of each half: amounts are short, names and numbers are not."""
    cells = [[Paragraph(a, st["body"]), Paragraph(b, st["right"])] for a, b in rows]
    if len(cells) % 2:
        cells.append([Paragraph("", st["body"]), Paragraph("", st["body"])])
    data = [cells[i] + cells[i + 1] for i in range(0, len(cells), 2)]
    col = width / 2  # labels get the room (amounts are short), so none wraps mid-word
    table = Table(data, colWidths=[col * label, col * (0.96 - label), col * label, col * (1 - label)])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (1, -1), 8),
                ("RIGHTPADDING", (2, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0.5),
            ]
        )
    )
    return table


def _qr(text: str, size: float) -> Drawing:
    """The QR code scaled to `size`, encoded once: the widget's drawn shapes are kept (a widget
    would be encoded again for its bounds and again when drawn, issue 28)."""
    shapes = QrCodeWidget(text).draw()
    x0, y0, x1, y1 = shapes.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(shapes)
    return drawing


def _pair(label: str, value: str, width: float, st: dict, style: str = "big") -> Table:
    """A label and its amount on one line, the amount right-aligned like every other."""
    return Table(
        [[Paragraph(label, st[style]), Paragraph(value, st[style + "right" if style == "big" else "right"])]],
        colWidths=[width * 0.5, width * 0.5],
        style=[("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)],
    )


def _item(i: object) -> str:
    """An item line: its name, then quantity × unit price where the settlement kept them."""
    name = i.name  # type: ignore[attr-defined]
    if i.quantity is None:  # type: ignore[attr-defined]
        return name
    return f"{name}　{i.quantity.normalize():f} × {fmt(i.price)}"  # type: ignore[attr-defined]


def _story(slip: Slip, width: float, base: float, wide: bool = False) -> list:
    st = _styles(base)
    m = fmt_or_dash

    pairs = (
        (lambda rows, **kw: _grid(rows, width, st))
        if wide
        else (lambda rows, **kw: _rows(rows, width, st, **kw))
    )
    story: list = [
        Paragraph(slip.institution, st["center"]),
        Paragraph(f"机构编码 {slip.institution_code}", st["center"]),
        Paragraph(slip.title, st["title"]),
    ]
    for mark in slip.marks:
        story.append(Paragraph(f"【{mark}】", st["stamp"]))
    ids = [
        ("结算单号", slip.setl_no),
        ("票据号", slip.slip_no),
        ("就诊ID", slip.mdtrt_id),
        ("结算ID", slip.setl_id),
        ("人员编号", slip.psn_no),
    ]
    head = [("窗口", slip.counter), ("收费员", slip.cashier)]
    if slip.reverses_setl_no:
        ids.append(("原结算单号", slip.reverses_setl_no))
    if slip.approver:
        head.append(("审批", slip.approver))
    head += [("姓名", slip.patient_name), ("人员类别", slip.psn_type), ("医疗类别", slip.med_type)]
    whole = [
        ("结算时间", f"{slip.settled_at:%Y-%m-%d %H:%M:%S}"),
        ("身份证号", slip.masked_certno),
        ("险种", slip.insutype),
        ("参保地", slip.insuplc_admdvs),
    ]
    if slip.self_pay:  # a receipt: no insurance numbers, no insurance rows
        ids, whole = ids[:2] + ids[5:], whole[:2]
        head = [h for h in head if h[0] != "人员类别"]
    if wide:  # the two long numbers get whole rows; the rest pairs up, values given the room
        story += [
            _Rule(width),
            _rows(ids[:2], width, st, left=0.3),
            _grid(ids[2:] + whole + head, width, st, label=0.3),
            _Rule(width),
        ]
    else:
        story += [_Rule(width), _rows(ids + head + whole, width, st, left=0.3), _Rule(width)]
    if slip.visit_line:
        story += [Paragraph(slip.visit_line, st["small"]), _Rule(width)]
    for name, items, subtotal in slip.groups:
        story.append(Paragraph(name, st["body"]))
        story.append(_rows([(_item(i), m(i.amount)) for i in items] + [("小计", m(subtotal))], width, st))
    story.append(_Rule(width))
    amounts = slip.amounts[:1] if slip.self_pay else slip.amounts
    story.append(pairs([(label, m(value)) for label, value in amounts]))
    if wide:  # the settlement list on a sheet gives its total in words, as an invoice does
        story.append(Paragraph(f"合计（大写）：{rmb_upper(slip.amounts[0][1])}", st["body"]))
    story.append(_Rule(width))
    if not slip.self_pay:
        pay = [("个人账户支付", m(slip.own_paid)), ("个人账户余额", m(slip.own_balance_after))]
        story.append(pairs(pay))
        story.append(
            _pair("家庭共济支付", m(slip.mulaid_total), width, st, "big" if slip.providers else "body")
        )
    if slip.providers:
        story.append(
            _rows(
                [(f"{p.masked_name}（{p.relation}）共济账户", m(p.paid)) for p in slip.providers], width, st
            )
        )
    story.append(_Rule(width))
    story.append(_pair("现金支付", m(slip.cash), width, st))
    drawer = [("支付方式", slip.tender)]
    if slip.tendered is not None:
        drawer += [("实收", m(slip.tendered)), ("找零", m(slip.change))]
    story.append(_rows(drawer, width, st, left=0.5))
    story.append(_Rule(width))
    if slip.deductible is not None:
        ytd = [
            (f"{slip.ytd_year}年累计起付线", f"{m(slip.ytd_deductible)} / {m(slip.deductible)}"),
            (f"{slip.ytd_year}年门诊统筹累计", f"{m(slip.ytd_pooled)} / {m(slip.annual_cap)}"),
        ]
        story.append(_rows(ytd, width, st, left=0.5))
    notes = (
        [Paragraph("自费：本次未使用医疗保险，费用全部由患者支付", st["small"])]
        if slip.self_pay
        else [
            Paragraph(f"{slip.pooling_title}：{slip.pooling_note}", st["small"]),
            Paragraph(f"政策：{slip.policy}", st["small"]),
        ]
    ) + [Paragraph(note, st["small"]) for note in slip.notes]
    keep = Paragraph("请妥善保管，退费凭此单办理", st["center"])
    if wide:  # A5: the QR code beside the notes, so the sheet stays one page
        qr = _qr(slip.qr_text, 20 * mm)
        story.append(
            Table(
                [[[*notes, Spacer(1, 2 * mm), keep], qr]],
                colWidths=[width - 24 * mm, 24 * mm],
                style=[
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                    ("ALIGN", (1, 0), (1, 0), "RIGHT"),
                ],
            )
        )
        return story
    story += [*notes, Spacer(1, 2 * mm)]
    qr = _qr(slip.qr_text, min(28 * mm, width * 0.4))
    story.append(Table([[qr]], colWidths=[width], style=[("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    story.append(keep)
    return story


FRAME_PADDING = 6  # points, each side: platypus' default Frame padding, inside the margins


def rmb_upper(amount: Decimal) -> str:
    """人民币大写 of an amount (cn2an), 负 before a refund's."""
    import cn2an

    words = cn2an.an2cn(format(abs(amount), "f"), "rmb")
    return ("负" if amount < 0 else "") + words


def render(slip: Slip, layout: str = "thermal80") -> bytes:
    """The slip as PDF bytes in one of LAYOUTS."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown slip layout {layout!r} (known: {', '.join(LAYOUTS)})")
    out = io.BytesIO()
    if layout == "a5":
        margin = 12 * mm
        width = A5[0] - 2 * margin - 2 * FRAME_PADDING
        doc = SimpleDocTemplate(
            out,
            pagesize=A5,
            leftMargin=margin,
            rightMargin=margin,
            topMargin=margin,
            bottomMargin=margin,
            title=slip.title,
            author=slip.institution,
        )
        doc.build(_story(slip, width, 8.5, wide=True))
        return out.getvalue()
    paper, margin = 80 * mm, 2 * mm
    width = paper - 2 * margin - 2 * FRAME_PADDING
    story = _story(slip, width, 8)
    height = sum(f.wrap(width, 100_000)[1] + f.getSpaceBefore() + f.getSpaceAfter() for f in story)
    page = (paper, height + 2 * margin + 2 * FRAME_PADDING + 2 * mm)  # the roll is cut where the content ends
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=slip.title,
        author=slip.institution,
    )
    doc.build(story)  # the measured flowables themselves: wrapping again is allowed
    return out.getvalue()


def amounts_shown(slip: Slip) -> list[Decimal]:
    """Every amount the slip prints, for tests that read the PDF back."""
    values = [v for _, v in slip.amounts] + [
        slip.own_paid,
        slip.own_balance_after,
        slip.mulaid_total,
        slip.cash,
    ]
    values += [v for v in (slip.tendered, slip.change) if v is not None]
    values += [p.paid for p in slip.providers]
    values += [i.amount for _, items, _ in slip.groups for i in items]
    return values
