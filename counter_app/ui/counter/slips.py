"""Slips: printed only after the settlement is committed; F10 reprints any earlier one, marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import slip_printer
from ..dialogs.settlement import SettlementDialog
from ..qt import QObject
from .desk import Desk


class Slips(QObject):
    """Renders (and prints) slips; keeps the last settlement done here and its slip's file."""

    def __init__(self, desk: Desk) -> None:
        super().__init__(desk)
        self.desk = desk
        self.last_setl_no: str | None = None  # the default of F10 and F11
        self.last_slip: Path | None = None

    def print_slip(self, setl_no: str, *, reprint: bool = False) -> None:
        desk = self.desk
        settings, context = desk.settings, desk.settings.context
        if not reprint:
            self.last_setl_no = setl_no

        def printed(result: tuple[Path, Any]) -> None:
            path, slip = result
            self.last_slip = path
            if settings.printer:
                try:
                    slip_printer.print_slip(slip, slip_printer.thermal_printer(settings.printer))
                except slip_printer.PrinterError as exc:
                    desk.show_error(exc)
                    return
            if reprint:  # F10 is asked for: say it was done, and that the copy is marked
                desk.say(f"已补打结算单 {setl_no}（票据号 {slip.slip_no}，标记“补打”）")
            # nothing said on success: the message line keeps what the cashier must act on (the
            # change), the settled panel the settlement number; the slip's file is for F10

        def failed(exc: Exception) -> None:
            desk.show_error(RuntimeError(f"结算已完成（{setl_no}），但结算单未能打印：{exc}。可按 F10 补打"))

        def render() -> tuple[Path, Any]:
            from ...printing import output  # reportlab loads with the first slip, not at start

            path, slip = output.save_pdf(desk.db, context, setl_no, settings.slip_dir, settings.slip_layout)
            if settings.escpos:  # the thermal printer, spoken to directly (the PDF is kept either way)
                from ...printing import escpos

                escpos.print_slip(settings.escpos, slip, open_drawer=escpos.opens_drawer(slip))
            return path, slip

        desk.run(render).success(printed).failure(failed).run()

    def reprint(self) -> None:
        """F10: reprint any earlier slip, marked as a reprint (its own permission)."""
        desk = self.desk
        if not desk.user.may("reprint"):
            desk.refuse(f"{desk.user.role_name}无补打权限")
            return
        dialog = SettlementDialog(desk, "补打结算单", approval=False, setl_no=self.last_setl_no or "")
        dialog.accepted.connect(lambda: self.print_slip(dialog.setl_no.text().strip(), reprint=True))
        desk.open(dialog)
