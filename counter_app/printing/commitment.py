"""The provider's commitment (承诺书, HF-3) printed for signature at the binding desk."""

from __future__ import annotations

import io

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from .pdf import _styles


def render(text: str) -> bytes:
    """The commitment (HF-3) for signature, from the exact text the binding's digest is taken of
    (services.binding.prepare_commitment): first line the title, then one paragraph a line."""
    st = _styles(10)
    out = io.BytesIO()
    title, *lines = text.split("\n")
    story = [Paragraph(title, st["title"]), Spacer(1, 5 * mm)]
    for n, line in enumerate(lines):
        story += [Paragraph(line, st["body"]), Spacer(1, (5 if n == 0 else 1) * mm)]
    story += [
        Spacer(1, 14 * mm),
        Paragraph("提供人签字：＿＿＿＿＿＿＿＿　　经办人：＿＿＿＿＿＿＿＿", st["body"]),
    ]
    SimpleDocTemplate(
        out,
        pagesize=A5,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=16 * mm,
        bottomMargin=14 * mm,
        title="承诺书",
    ).build(story)
    return out.getvalue()
