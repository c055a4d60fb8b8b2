"""The provider's commitment (承诺书, HF-3) printed for signature at the binding desk."""
from __future__ import annotations

import datetime as dt
import io

from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from ..services.binding import COMMITMENT_TEXT, RELATION_NAMES
from .pdf import _styles


def render(provider_name: str, provider_masked_certno: str, beneficiary_name: str, beneficiary_masked_certno: str,
           relation: str, institution: str, at: dt.datetime) -> bytes:
    st = _styles(10)
    out = io.BytesIO()
    story = [
        Paragraph("医保个人账户亲属支付关系确认承诺书", st["title"]), Spacer(1, 5 * mm),
        Paragraph(COMMITMENT_TEXT, st["body"]), Spacer(1, 5 * mm),
        Paragraph(f"提供人：{provider_name}（{provider_masked_certno}）", st["body"]),
        Paragraph(f"享受人：{beneficiary_name}（{beneficiary_masked_certno}），为提供人之{RELATION_NAMES[relation]}",
                  st["body"]),
        Paragraph(f"经办机构：{institution}　日期：{at:%Y年%m月%d日}", st["body"]), Spacer(1, 15 * mm),
        Paragraph("提供人签字：＿＿＿＿＿＿＿＿　　经办人：＿＿＿＿＿＿＿＿", st["body"]),
    ]
    SimpleDocTemplate(out, pagesize=A5, leftMargin=14 * mm, rightMargin=14 * mm, topMargin=16 * mm,
                      bottomMargin=14 * mm, title="承诺书").build(story)
    return out.getvalue()
