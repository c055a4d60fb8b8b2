"""The slip in ESC/POS for 80 mm thermal printers, read back from python-escpos's Dummy printer:
the Chinese text in GB18030, every amount, the QR code, the cut and the cash-drawer pulse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from escpos.printer import Dummy

from counter_app.engine.money import fmt
from counter_app.printing import escpos
from counter_app.printing.slip import load_slip
from counter_app.services import settlement as svc
from tests.services.world import build

CUT, DRAWER, QR = b"\x1dV", b"\x1bp", b"\x1d(k"


def settle(sqlite_url, tendered: str | None = "1000.00"):
    w = build(sqlite_url, mother_balance="300.00", father_balance="100.00")
    done = svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(
            w.child,
            (svc.ClaimLine("A001", Decimal(2)), svc.ClaimLine("B001"), svc.ClaimLine("C001")),
            dt.date(2024, 5, 10),
        ),
        None,
        now=dt.datetime(2024, 5, 10, 9, 30),
        tendered=Decimal(tendered) if tendered else None,
    )
    return w, done


def test_the_slip_prints_in_gb18030_with_every_amount_a_qr_code_and_a_cut(sqlite_url):
    w, done = settle(sqlite_url)
    slip = load_slip(w.db, done.setl_no)
    printer = Dummy()
    escpos.render(slip, printer, open_drawer=escpos.opens_drawer(slip))
    out = printer.output
    text = out.decode("gb18030", errors="replace")
    for words in (
        "医疗保险结算单",
        "芜湖市第一人民医院",
        "家庭共济支付",
        "统筹基金支付",
        "现金支付（现金）",
        "找零",
        "阿莫西林胶囊",
        "2×100.00",
        done.setl_no,
    ):
        assert words.encode("gb18030") in out, words
    r = done.result
    for amount in (
        r.medfee_sumamt,
        r.acct_mulaid_pay,
        r.psn_cash_pay,
        Decimal("1000.00") - r.psn_cash_pay,
        *(d.paid for d in r.mulaid),
    ):
        assert fmt(amount) in text, amount
    assert QR in out and done.setl_no.encode() in out[out.index(QR) :]  # the settlement number as a QR code
    assert out.index(CUT) > out.index(QR)
    assert DRAWER in out[out.index(CUT) :]  # cash changed hands: the drawer opens, after the cut


def test_every_line_fits_the_80mm_paper():
    assert escpos.width("医保abc") == 7
    line = escpos.row("家庭共济支付 很长的名字很长的名字很长的名字很长的名字很长的名字", "12345.67")
    assert escpos.width(line) == escpos.COLUMNS and line.endswith("12345.67")


def test_a_reprint_or_a_card_payment_does_not_open_the_drawer(sqlite_url):
    w, done = settle(sqlite_url)
    first = load_slip(w.db, done.setl_no, copy=1)
    again = load_slip(w.db, done.setl_no, copy=2)
    assert escpos.opens_drawer(first) and not escpos.opens_drawer(again)
    printer = Dummy()
    escpos.render(again, printer, open_drawer=escpos.opens_drawer(again))
    assert CUT in printer.output and DRAWER not in printer.output
    assert "补打".encode("gb18030") in printer.output
