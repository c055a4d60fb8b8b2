"""Slips on the system printer and in print preview, drawn with QPainter from the same `Slip`
content the PDF is drawn from (printing/slip.py), so paper and file never disagree.
"""

from __future__ import annotations

from ..engine.money import fmt
from ..printing.slip import Slip, fmt_or_dash
from .qt import QtCore, QtGui, QtPrintSupport, QtWidgets


class PrinterError(RuntimeError):
    """The printer could not take the slip; the settlement itself is not affected."""


def slip_lines(slip: Slip) -> list[tuple[str, str, str]]:
    """(style, left, right) rows in print order; style is title, stamp, rule, row, big or note."""
    rows: list[tuple[str, str, str]] = [
        ("center", slip.institution, ""),
        ("center", f"机构编码 {slip.institution_code}", ""),
        ("title", slip.title, ""),
    ]
    rows += [("stamp", f"【{m}】", "") for m in slip.marks]
    rows.append(("rule", "", ""))
    head = [
        ("结算单号", slip.setl_no),
        ("票据号", slip.slip_no),
        ("就诊ID", slip.mdtrt_id),
        ("结算ID", slip.setl_id),
        ("人员编号", slip.psn_no),
        ("结算时间", f"{slip.settled_at:%Y-%m-%d %H:%M:%S}"),
        ("窗口/收费员", f"{slip.counter} / {slip.cashier}"),
    ]
    if slip.reverses_setl_no:
        head.append(("原结算单号", slip.reverses_setl_no))
    if slip.approver:
        head.append(("审批", slip.approver))
    head += [
        ("姓名", slip.patient_name),
        ("身份证号", slip.masked_certno),
        ("险种", slip.insutype),
        ("参保地", slip.insuplc_admdvs),
        ("人员类别", slip.psn_type),
        ("医疗类别", slip.med_type),
    ]
    rows += [("row", a, b) for a, b in head]
    rows.append(("rule", "", ""))
    for name, items, subtotal in slip.groups:
        rows.append(("row", name, ""))
        rows += [
            (
                "row",
                f"  {i.name}"
                + (f" {i.quantity.normalize():f}×{fmt_or_dash(i.price)}" if i.quantity is not None else ""),
                fmt(i.amount),
            )
            for i in items
        ]
        rows.append(("row", "  小计", fmt(subtotal)))
    rows.append(("rule", "", ""))
    rows += [("row", label, fmt(value)) for label, value in slip.amounts]
    rows.append(("rule", "", ""))
    rows += [
        ("row", "个人账户支付", fmt(slip.own_paid)),
        ("row", "个人账户余额", fmt(slip.own_balance_after)),
    ]
    rows.append(("big" if slip.providers else "row", "家庭共济支付", fmt(slip.mulaid_total)))
    rows += [("row", f"{p.masked_name}（{p.relation}）共济账户", fmt(p.paid)) for p in slip.providers]
    rows.append(("rule", "", ""))
    rows.append(("big", "现金支付", fmt(slip.cash)))
    rows.append(("row", "支付方式", slip.tender))
    if slip.tendered is not None:
        rows += [("row", "实收", fmt(slip.tendered)), ("row", "找零", fmt_or_dash(slip.change))]
    rows.append(("rule", "", ""))
    if slip.deductible is not None:
        rows.append(
            (
                "row",
                f"{slip.ytd_year}年累计起付线",
                f"{fmt(slip.ytd_deductible)} / {fmt_or_dash(slip.deductible)}",
            )
        )
        rows.append(
            (
                "row",
                f"{slip.ytd_year}年门诊统筹累计",
                f"{fmt(slip.ytd_pooled)} / {fmt_or_dash(slip.annual_cap)}",
            )
        )
    rows.append(("note", f"{slip.pooling_title}：{slip.pooling_note}", ""))
    rows.append(("note", f"政策：{slip.policy}", ""))
    return rows


def paint(painter: QtGui.QPainter, slip: Slip, page: QtCore.QRectF) -> None:
    """Draw the slip top-down inside `page`, wrapping long text, in the application's CJK font."""
    base = QtGui.QFont(QtWidgets.QApplication.font())
    unit = page.width() / 42  # about 42 narrow characters across, as on an 80 mm roll
    y = page.top()
    for style, left, right in slip_lines(slip):
        font = QtGui.QFont(base)
        size = {"title": 1.4, "big": 1.4, "stamp": 1.3, "note": 0.85}.get(style, 1.0) * unit * 1.6
        font.setPixelSize(max(1, int(size)))
        painter.setFont(font)
        painter.setPen(QtGui.QColor("red") if style == "stamp" else QtGui.QColor("black"))
        height = QtGui.QFontMetricsF(font).height()
        if style == "rule":
            pen = QtGui.QPen(QtGui.QColor("black"))
            pen.setStyle(QtCore.Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(
                QtCore.QPointF(page.left(), y + height / 4), QtCore.QPointF(page.right(), y + height / 4)
            )
            y += height / 2
            continue
        align = QtCore.Qt.AlignmentFlag
        if style in ("title", "stamp", "center"):
            box = QtCore.QRectF(page.left(), y, page.width(), height * 3)
            used = painter.boundingRect(
                box, int(align.AlignHCenter | align.AlignTop | QtCore.Qt.TextFlag.TextWordWrap), left
            )
            painter.drawText(
                box, int(align.AlignHCenter | align.AlignTop | QtCore.Qt.TextFlag.TextWordWrap), left
            )
            y += used.height()
            continue
        right_width = QtGui.QFontMetricsF(font).horizontalAdvance(right) + unit if right else 0
        box = QtCore.QRectF(page.left(), y, page.width() - right_width, height * 6)
        flags = int(align.AlignLeft | align.AlignTop | QtCore.Qt.TextFlag.TextWordWrap)
        used = painter.boundingRect(box, flags, left)
        painter.drawText(box, flags, left)
        if right:
            painter.drawText(
                QtCore.QRectF(page.left(), y, page.width(), height),
                int(align.AlignRight | align.AlignTop),
                right,
            )
        y += max(used.height(), height)


def print_slip(slip: Slip, printer: QtPrintSupport.QPrinter) -> None:
    """Send the slip to `printer` (a real printer, or a PDF file for tests); PrinterError on failure."""
    painter = QtGui.QPainter()
    if not painter.begin(printer):
        raise PrinterError(
            f"打印机 {printer.printerName() or printer.outputFileName() or '（默认）'} 无法打印，请检查后补打"
        )
    try:
        area = printer.pageLayout().paintRectPixels(printer.resolution())
        paint(painter, slip, QtCore.QRectF(0, 0, area.width(), area.height()))  # origin: the paintable area
    finally:
        painter.end()


def thermal_printer(name: str | None = None) -> QtPrintSupport.QPrinter:
    """A QPrinter set up for an 80 mm roll (the driver cuts where the content ends)."""
    printer = QtPrintSupport.QPrinter(QtPrintSupport.QPrinter.PrinterMode.HighResolution)
    if name:
        printer.setPrinterName(name)
    size = QtGui.QPageSize(QtCore.QSizeF(80, 297), QtGui.QPageSize.Unit.Millimeter, "80mm roll")
    printer.setPageLayout(
        QtGui.QPageLayout(
            size,
            QtGui.QPageLayout.Orientation.Portrait,
            QtCore.QMarginsF(3, 3, 3, 3),
            QtGui.QPageLayout.Unit.Millimeter,
        )
    )
    return printer


class _Preview(QtPrintSupport.QPrintPreviewDialog):
    printer_: QtPrintSupport.QPrinter


def preview(slip: Slip, parent: QtWidgets.QWidget | None = None) -> QtPrintSupport.QPrintPreviewDialog:
    """The print preview dialog for a slip (not shown; the caller calls exec() or open())."""
    printer = thermal_printer()
    dialog = _Preview(printer, parent)
    dialog.printer_ = printer  # the dialog holds only a pointer: keep the QPrinter alive with it
    dialog.setWindowTitle(f"打印预览 {slip.slip_no}")
    dialog.paintRequested.connect(lambda p: print_slip(slip, p))
    return dialog
