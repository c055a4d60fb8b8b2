"""Slips through Qt's printing (the path to a system printer), read back from QPrinter's PDF."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from counter_app.engine.money import fmt
from counter_app.printing import pdf
from counter_app.printing.slip import load_slip
from counter_app.services import settlement as svc
from counter_app.ui import slip_printer
from counter_app.ui.app import application
from counter_app.ui.qt import QtPrintSupport
from tests.services.world import build


@pytest.fixture
def slip(sqlite_url):
    w = build(sqlite_url, mother_balance="150.00")
    req = svc.ClaimRequest(
        w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001"), svc.ClaimLine("C001")), dt.date(2024, 5, 10)
    )
    return load_slip(w.db, svc.settle(w.db, w.ctx, req, None).setl_no)


def test_printed_through_qt_every_amount_and_provider_is_on_paper(qapp, slip, tmp_path):
    application()
    printer = slip_printer.thermal_printer()
    printer.setOutputFormat(QtPrintSupport.QPrinter.OutputFormat.PdfFormat)
    target = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(target))
    slip_printer.print_slip(slip, printer)
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(target.read_bytes())).pages).split()
    )
    for amount in pdf.amounts_shown(slip):
        assert fmt(amount) in text
    assert "李*（母亲）共济账户" in text and "张*（父亲）共济账户" in text and "家庭共济支付" in text


def test_print_preview_opens_and_draws(qtbot, slip):
    """Regression: the dialog keeps only a pointer to its QPrinter; a collected printer crashed it."""
    application()
    dialog = slip_printer.preview(slip)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.grab().isNull()


@pytest.mark.qt_log_ignore("QPainter::begin")  # the failure this test provokes
def test_a_printer_that_cannot_print_is_a_clear_error(qapp, slip):
    printer = slip_printer.thermal_printer()
    printer.setOutputFormat(QtPrintSupport.QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName("/nonexistent-folder/slip.pdf")
    with pytest.raises(slip_printer.PrinterError, match="无法打印"):
        slip_printer.print_slip(slip, printer)
