"""Slips read back from the real PDF: every amount to the cent, the mutual-aid lines, the font."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from sqlalchemy import update

from counter_app.engine.money import fmt
from counter_app.printing import pdf
from counter_app.printing.slip import load_slip, record_print
from counter_app.services import settlement as svc
from counter_app.store.models import CatalogueItem
from tests.services.world import build


@pytest.fixture
def settled(sqlite_url):
    """A child's visit paid by the mother (150.00, all she has), the father, and cash for class C."""
    w = build(sqlite_url, mother_balance="150.00")
    req = svc.ClaimRequest(
        w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001"), svc.ClaimLine("C001")), dt.date(2024, 5, 10)
    )
    done = svc.settle(w.db, w.ctx, req, None, now=dt.datetime(2024, 5, 10, 9, 30))
    return w, done


def text_of(data: bytes) -> str:
    """The slip's text with runs of white space as one space (extraction breaks label from value)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.parametrize("layout", pdf.LAYOUTS)
def test_every_amount_and_the_mutual_aid_lines_are_on_the_slip(settled, layout):
    w, done = settled
    slip = load_slip(w.db, done.setl_no)
    text = text_of(pdf.render(slip, layout))
    for amount in pdf.amounts_shown(slip):
        assert fmt(amount) in text
    assert "家庭共济支付 300.00" in text
    assert "李*（母亲）共济账户 150.00" in text and "张*（父亲）共济账户 150.00" in text
    assert "现金支付 80.00" in text
    assert done.setl_no in text and "张小明" in text and "340202********" in text
    r = done.result
    assert (r.acct_mulaid_pay, r.psn_cash_pay, r.medfee_sumamt) == (
        Decimal("300.00"),
        Decimal("80.00"),
        Decimal("380.00"),
    )


def test_every_character_is_drawn_in_the_embedded_truetype_font(settled):
    """reportlab lists Helvetica/Times in every document but draws nothing with them; what is drawn
    must use the embedded subset (a /FontFile2 stream), so a machine without the font shows it all."""
    w, done = settled
    reader = PdfReader(io.BytesIO(pdf.render(load_slip(w.db, done.setl_no))))
    used: dict[str, bool] = {}

    def visit(text, cm, tm, font, size):
        if text.strip() and font is not None:
            used[str(font["/BaseFont"])] = "/FontFile2" in font["/FontDescriptor"].get_object()

    reader.pages[0].extract_text(visitor_text=visit)
    assert used and all(used.values()), used
    assert all(name.endswith("WenQuanYiMicroHei-0") for name in used), used


def test_thermal_roll_is_80mm_wide_one_page_and_long_names_wrap(settled):
    w, _done = settled
    long_name = "复方丹参滴丸（薄膜衣）每丸重二十七毫克" * 3
    with w.db.transaction() as s:
        s.execute(update(CatalogueItem).where(CatalogueItem.code == "A001").values(name=long_name))
    req = svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), dt.date(2024, 5, 10))
    other = svc.settle(w.db, w.ctx, req, None)
    reader = PdfReader(io.BytesIO(pdf.render(load_slip(w.db, other.setl_no), "thermal80")))
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 80 * mm) < 0.5
    placed: list[float] = []
    reader.pages[0].extract_text(
        visitor_text=lambda t, cm, tm, *_: placed.append(tm[4] + cm[4]) if t.strip() else None
    )
    assert placed and max(placed) < float(box.width)
    text = reader.pages[0].extract_text()
    assert long_name not in text.replace("\n", "X") and long_name[:10] in text  # wrapped, not cut
    assert text.replace("\n", "").count("复方丹参滴丸") == 3


def test_refund_and_reprint_are_marked(settled):
    w, done = settled
    record_print(w.db, w.ctx, done.setl_no, 1, "test.pdf")
    reprint = load_slip(w.db, done.setl_no)
    assert reprint.marks == ("补打",) and reprint.slip_no.endswith("-02")
    assert "【补打】" in text_of(pdf.render(reprint))
    back = svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), "退药")
    text = text_of(pdf.render(load_slip(w.db, back.setl_no)))
    assert "【退费】" in text and "-300.00" in text and done.setl_no in text and "王建华" in text


def test_unknown_layout_is_refused(settled):
    w, done = settled
    with pytest.raises(ValueError, match="unknown slip layout 'a4'"):
        pdf.render(load_slip(w.db, done.setl_no), "a4")


@pytest.mark.parametrize("layout", pdf.LAYOUTS)
def test_the_slip_carries_what_a_medical_insurance_settlement_slip_carries(sqlite_url, layout):
    """Institution code, 就诊ID and 结算ID (待上传 until the centre answers), 人员编号, 参保地, quantity
    and unit price on every line, the cashier's name, the tender with 实收 and 找零, a short policy
    name with no draft wording; 家庭共济支付 and 现金支付 right-aligned alike; no label broken mid-word."""
    w = build(sqlite_url, mother_balance="150.00")
    req = svc.ClaimRequest(
        w.child, (svc.ClaimLine("A001", Decimal("2")), svc.ClaimLine("C001")), dt.date(2024, 5, 10)
    )
    done = svc.settle(w.db, w.ctx, req, None, now=dt.datetime(2024, 5, 10, 9, 30), tendered=Decimal("100.00"))
    slip = load_slip(w.db, done.setl_no)
    data = pdf.render(slip, layout)
    text = text_of(data)
    for shown in (
        "机构编码 H34020200001",
        "就诊ID 待上传",
        "结算ID 待上传",
        "人员编号 P0001",
        "参保地 340202",
        "2 × 100.00",
        "1 × 80.00",
        "支付方式 现金",
        "实收 100.00",
        "找零 20.00",
        "城乡居民基本医疗保险",
        "政策：芜湖市职工门诊共济保障",
        "张晓燕",
    ):
        assert shown in text, shown
    assert "征求意见稿" not in text and "cashier1" not in text and "wuhu-2022" not in text
    big: dict[str, float] = {}  # the amounts drawn in large type: 家庭共济支付 and 现金支付
    reader = PdfReader(io.BytesIO(data))

    def visit(t, cm, tm, font, size):
        if font is not None and size * tm[0] > 11 and t.strip()[:1].isdigit():
            big[t.strip()] = tm[4] + cm[4] + pdfmetrics.stringWidth(t.strip(), pdf.FONT, size * tm[0])

    reader.pages[0].extract_text(visitor_text=visit)
    family, cash = fmt(done.result.acct_mulaid_pay), fmt(done.result.psn_cash_pay)
    assert set(big) == {family, cash} and abs(big[family] - big[cash]) < 1.0, big  # one right edge


@pytest.mark.slow
def test_the_centres_ids_reach_the_slip_once_it_answered(sqlite_url, tmp_path):
    from counter_app.sync.client import CentreClient
    from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
    from counter_app.sync.outbox import RetryPolicy, drain
    from tests.centre_process import CentreProcess

    w = build(sqlite_url)
    done = svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), dt.date(2024, 5, 10)),
        None,
        now=dt.datetime(2024, 5, 10, 9, 30),
    )
    centre = CentreProcess(tmp_path, registry=w.db.url.render_as_string(hide_password=False)).start()
    try:
        drain(
            w.db,
            CentreClient(centre.url, credentials=Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)),
            policy=RetryPolicy(0, 0),
        )
    finally:
        centre.stop()
    slip = load_slip(w.db, done.setl_no)
    assert slip.mdtrt_id.startswith("O") and slip.setl_id.startswith("C")
    text = text_of(pdf.render(slip))
    assert f"就诊ID {slip.mdtrt_id}" in text and f"结算ID {slip.setl_id}" in text
