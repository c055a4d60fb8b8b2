"""The settlement slip on an 80 mm thermal printer, spoken to directly in ESC/POS (python-escpos).

Most counters print on such printers; going through the system's driver is slow and often wrong
with Chinese. This draws the same `Slip` as the PDF (slip.py): Chinese text in GB18030 (the
printer's Chinese mode, FS &), the lines and the payers right-aligned on 48 columns (a Chinese
character takes two), the settlement number as a QR code, a cut, and after a cash settlement the
cash-drawer pulse. The printer is named in the settings as usb:VID:PID, tcp:HOST[:PORT] or
serial:DEVICE (config.py checks the form).
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

from ..engine.money import fmt
from .slip import Slip

COLUMNS = 48  # 80 mm paper, font A: 48 half-width columns (24 Chinese characters)
CHINESE_ON, CHINESE_OFF = b"\x1c\x26", b"\x1c\x2e"  # FS & / FS .: the printer's Chinese (GB) mode


class EscposError(RuntimeError):
    """The thermal printer could not be reached or refused; the message says which and why."""


def width(text: str) -> int:
    """Columns `text` takes: two for a Chinese (wide) character, one otherwise."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _cut_to(text: str, columns: int) -> str:
    out, used = [], 0
    for c in text:
        w = width(c)
        if used + w > columns:
            break
        out.append(c)
        used += w
    return "".join(out)


def row(left: str, right: str, columns: int = COLUMNS) -> str:
    """`left` and `right` on one line, `right` against the edge; `left` is cut short if need be."""
    left = _cut_to(left, columns - width(right) - 1)
    return left + " " * (columns - width(left) - width(right)) + right


def centred(text: str, columns: int = COLUMNS) -> str:
    text = _cut_to(text, columns)
    return " " * ((columns - width(text)) // 2) + text


def lines(slip: Slip) -> list[str]:
    """The slip's text lines, as printed (also what a test reads back)."""
    out = [
        slip.institution,
        f"机构编码 {slip.institution_code}",
        "-" * COLUMNS,
        f"结算单号 {slip.setl_no}",
        f"打印编号 {slip.slip_no}",
    ]
    if slip.reverses_setl_no:
        out.append(f"原结算单号 {slip.reverses_setl_no}")
    out += [
        f"时间 {slip.settled_at:%Y-%m-%d %H:%M:%S}",
        f"窗口 {slip.counter}  收费员 {slip.cashier}",
        f"姓名 {slip.patient_name}  {slip.masked_certno}",
        f"人员编号 {slip.psn_no}  参保地 {slip.insuplc_admdvs}",
        f"{slip.insutype} {slip.psn_type} {slip.med_type}",
        f"就诊ID {slip.mdtrt_id}",
        f"结算ID {slip.setl_id}",
        "-" * COLUMNS,
    ]
    for group, items, subtotal in slip.groups:
        out.append(row(group, fmt(subtotal)))
        for item in items:
            detail = (
                f"{item.quantity.normalize():f}×{fmt(item.price)} "
                if item.quantity is not None and item.price is not None
                else ""
            )
            out.append(row(f"  {item.name}", detail + fmt(item.amount)))
    out.append("-" * COLUMNS)
    out += [row(label, fmt(amount)) for label, amount in slip.amounts]
    out.append("-" * COLUMNS)
    out.append(
        row(slip.pooling_title + "（统筹基金）", fmt(dict(slip.amounts).get("统筹基金支付", Decimal(0))))
    )
    out.append(row("个人账户支付", fmt(slip.own_paid)))
    out.append(row("  本人账户余额", fmt(slip.own_balance_after)))
    out.append(row("家庭共济支付", fmt(slip.mulaid_total)))
    for p in slip.providers:
        out.append(row(f"  {p.masked_name}（{p.relation}）余额 {fmt(p.balance_after)}", fmt(p.paid)))
    out.append(row(f"现金支付（{slip.tender}）", fmt(slip.cash)))
    if slip.tendered is not None:
        out.append(row("实收", fmt(slip.tendered)))
        out.append(row("找零", fmt(slip.change if slip.change is not None else Decimal(0))))
    out += [
        "-" * COLUMNS,
        f"{slip.ytd_year} 年累计：起付线 {fmt(slip.ytd_deductible)}  门诊统筹 {fmt(slip.ytd_pooled)}",
        slip.pooling_note,
        *slip.notes,
        slip.policy,
    ]
    return out


def render(slip: Slip, printer: Any, *, open_drawer: bool) -> None:
    """Print the slip on `printer` (a python-escpos printer: Usb, Network, Serial, or Dummy in tests)."""

    def text(value: str) -> None:
        printer._raw(CHINESE_ON + (value + "\n").encode("gb18030") + CHINESE_OFF)

    printer.hw("INIT")
    printer.set(align="center", double_height=True, double_width=True, bold=True)
    text(slip.title)
    if slip.marks:
        text("【" + "·".join(slip.marks) + "】")
    printer.set(align="left", normal_textsize=True, bold=False)
    for line in lines(slip):
        text(line)
    printer.set(align="center")
    printer.qr(slip.qr_text, size=6, native=True)
    printer.set(align="left")
    printer.cut()
    if open_drawer:
        printer.cashdraw(2)  # the pulse on pin 2, where counters' drawers hang


def printer_for(spec: str) -> Any:
    """The python-escpos printer named by a setting (usb:VID:PID, tcp:HOST[:PORT], serial:DEVICE)."""
    from escpos import printer as escpos_printer

    kind, _, rest = spec.partition(":")
    try:
        if kind == "usb":
            vid, pid = (int(p, 16) for p in rest.split(":"))
            return escpos_printer.Usb(vid, pid)
        if kind == "tcp":
            host, _, port = rest.partition(":")
            return escpos_printer.Network(host, int(port or 9100), timeout=10)
        if kind == "serial":
            return escpos_printer.Serial(devfile=rest)
    except Exception as exc:
        raise EscposError(f"热敏打印机 {spec} 无法连接：{exc}") from exc
    raise EscposError(f"热敏打印机设置无效：{spec}")


def print_slip(spec: str, slip: Slip, *, open_drawer: bool) -> None:
    printer = printer_for(spec)
    try:
        render(slip, printer, open_drawer=open_drawer)
    except Exception as exc:
        raise EscposError(f"热敏打印机 {spec} 打印失败：{exc}") from exc
    finally:
        try:
            printer.close()
        except Exception:  # noqa: BLE001 - closing a printer that failed to open
            pass


def opens_drawer(slip: Slip) -> bool:
    """A first print of a settlement or refund with cash moving opens the drawer; a reprint does not."""
    return slip.tender == "现金" and slip.cash != 0 and "补打" not in slip.marks
