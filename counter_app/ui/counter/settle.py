"""Pre-settle, settle, print, reprint and refund: the money steps of the counter window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ... import labels
from ...engine.money import ZERO, fmt
from ...services import elsewhere, inpatient, self_pay
from ...services import settlement as svc
from ...services.errors import ServiceError
from ...services.staff import approve_refund
from ...services.tenders import TENDERS
from .. import slip_printer
from ..dialogs.settlement import SettlementDialog
from ..ops import Op
from .widgets import money_text as _money_text

if TYPE_CHECKING:
    pass


class SettleMixin:
    """Part of CounterWindow (window.py); `self` is the window."""

    def preview(self) -> None:
        if self.self_pay.isChecked() and self.kind != "inpatient":
            self.preview_self_pay()
            return
        if self.person is None or not self.lines:
            self.show_error(ServiceError("请先扫码并录入收费项目"))
            return
        if self.kind == "inpatient":
            self.preview_discharge()
            return
        request = self.request()

        def shown(pv: svc.Preview) -> None:
            if request != self.request():
                return  # the claim changed while previewing
            self.shown = pv
            self.preview_panel.show_preview(pv, self._provider_names())
            self.message.setText("")
            if pv.result.psn_cash_pay and self.preview_panel.tender.currentData() == "cash":
                self.preview_panel.tendered.setFocus()  # the cashier types what was handed over; F9 settles
            if (
                self.settings.centre is not None
                and self.settings.centre_presettle
                and not self.person.out_of_area
            ):
                self.ask_centre(pv)

        if self.person.out_of_area:  # the centre prices a patient insured elsewhere (decision 12)
            centre = self.settings.centre
            Op(self, lambda: elsewhere.preview(self.db, self.settings.context, request, centre)).success(
                lambda pv: (
                    shown(pv),
                    self.preview_panel.notice.setText(
                        f"异地就医：医保中心按参保地 {self.person.insuplc_admdvs} 政策预结算"
                    ),
                )
            ).run()
            return
        Op(self, lambda: svc.preview(self.db, self.settings.context, request)).success(shown).run()

    def preview_self_pay(self) -> None:
        """F5 for a self-pay visit: the whole amount is the patient's, in cash; nothing is asked
        of the centre."""
        if not self.lines:
            self.show_error(ServiceError("请先录入收费项目"))
            return
        request = self.self_pay_request()

        def shown(pv: self_pay.SelfPayPreview) -> None:
            if request != self.self_pay_request():
                return
            self.shown = pv
            self.preview_panel.show_preview(pv, {}, f"自费：{pv.payer} 全额自付，不使用医保")
            self.message.setText("")
            if self.preview_panel.tender.currentData() == "cash":
                self.preview_panel.tendered.setFocus()

        Op(self, lambda: self_pay.preview(self.db, self.settings.context, request)).success(shown).run()

    def ask_centre(self, pv: svc.Preview) -> None:
        """The centre's own pre-settlement (2206) beside the preview, before the patient confirms
        (a setting, off by default: it adds round trips). A difference is shown, not enforced: the
        counter settles with its engine and the centre's answer is compared again on 2207."""
        centre, ctx, person = self.settings.centre, self.settings.context, self.person

        def said(diff: dict[str, list[str]]) -> None:
            if self.shown is not pv:
                return  # the claim changed meanwhile
            if not diff:
                self.say("医保中心预结算与本地一致")
                return
            text = "医保中心预结算与本地不同：" + "，".join(
                f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {a} 中心 {b}" for k, (a, b) in diff.items()
            )
            self.preview_panel.notice.setText(text + "；结算后将标记，待主管核对")
            self.errors.append(text)

        Op(self, lambda: centre.outpatient_check(ctx, pv, person.cert_type, person.cert_no)).success(
            said
        ).failure(lambda exc: self.say(f"未能向医保中心预结算（{exc}）：仍可按本地预结算结算")).run()

    def confirm(self) -> None:
        if self.shown is None:
            self.show_error(ServiceError("请先预结算（F5），向参保人确认分摊后再结算"))
            return
        if self.kind == "inpatient":
            self.confirm_discharge()
            return
        confirmed = self.shown
        request = None if isinstance(confirmed, self_pay.SelfPayPreview) else self.request()
        tender = self.preview_panel.tender.currentData()
        tendered = None
        try:
            paid_by = self.preview_panel.paid_by()
        except ServiceError as exc:
            self.show_error(exc)
            return
        if paid_by:
            tender = "cash"  # the balance after card and apps
        if paid_by and (isinstance(confirmed, self_pay.SelfPayPreview) or self.person.out_of_area):
            self.show_error(ServiceError("组合支付只用于本地医保结算；自费和异地结算请选一种支付方式"))
            return
        if tender == "cash" and self.preview_panel.tendered.text().strip():
            try:
                tendered = _money_text(self.preview_panel.tendered.text(), "实收")
            except ServiceError as exc:
                self.show_error(exc)
                return

        def settled(done: svc.Settled) -> None:
            self.last_setl_no = done.setl_no
            cash = done.result.psn_cash_pay - sum((a for _, a in paid_by), ZERO)
            change = f"，实收 {fmt(tendered)}，找零 {fmt(tendered - cash)}" if tendered is not None else ""
            means = (
                "（" + "，".join(f"{TENDERS[m]} {fmt(a)}" for m, a in paid_by) + "，其余现金）"
                if paid_by
                else ""
            )
            self.say(f"结算成功，应收现金 {fmt(cash)}{means}{change}")
            self.print_slip(done.setl_no)
            self.refresh_status()  # one more message waits for upstream
            self.show_settled(done.setl_no)

        def refused(exc: Exception) -> None:
            if isinstance(exc, svc.SplitChanged):
                self.shown = exc.preview  # show the new split; the cashier confirms again
                self.preview_panel.show_preview(exc.preview, self._provider_names(), exc.message)
                self.errors.append(exc.message)
            else:
                self.show_error(exc)

        if isinstance(confirmed, self_pay.SelfPayPreview):
            paying = self.self_pay_request()
            Op(
                self,
                lambda: self_pay.settle(
                    self.db, self.settings.context, paying, tender=tender, tendered=tendered
                ),
            ).success(settled).failure(refused).run()
            return
        if self.person is not None and self.person.out_of_area:
            centre = self.settings.centre
            Op(
                self,
                lambda: elsewhere.settle(
                    self.db,
                    self.settings.context,
                    request,
                    confirmed,
                    centre,
                    tender=tender,
                    tendered=tendered,
                ),
            ).success(settled).failure(refused).run()
            return
        Op(
            self,
            lambda: svc.settle(
                self.db,
                self.settings.context,
                request,
                confirmed,
                tender=tender,
                tendered=tendered,
                paid_by=paid_by,
            ),
        ).success(settled).failure(refused).run()

    def show_settled(self, setl_no: str) -> None:
        """The settled split stays on screen, marked 已结算, until the next scan or Esc; nothing can be
        settled twice from it (F9 needs a new preview), and the scan field is ready."""
        self.shown = None
        self.preview_panel.show_settled(setl_no)
        self.scan.clear()
        self.focus_scan()

    # ----- slips: only after the settlement is committed

    def print_slip(self, setl_no: str, *, reprint: bool = False) -> None:
        def printed(result: tuple[Path, Any]) -> None:
            path, slip = result
            self.last_slip = path
            if self.settings.printer:
                try:
                    slip_printer.print_slip(slip, slip_printer.thermal_printer(self.settings.printer))
                except slip_printer.PrinterError as exc:
                    self.show_error(exc)
                    return
            if reprint:  # F10 is asked for: say it was done, and that the copy is marked
                self.say(f"已补打结算单 {setl_no}（票据号 {slip.slip_no}，标记“补打”）")
            # nothing said on success: the message line keeps what the cashier must act on (the
            # change), the settled panel the settlement number; the slip's file is for F10

        def failed(exc: Exception) -> None:
            self.show_error(RuntimeError(f"结算已完成（{setl_no}），但结算单未能打印：{exc}。可按 F10 补打"))

        def render() -> tuple[Path, Any]:
            from ...printing import (
                output,  # reportlab loads with the first slip, not at start
            )

            path, slip = output.save_pdf(
                self.db, self.settings.context, setl_no, self.settings.slip_dir, self.settings.slip_layout
            )
            if self.settings.escpos:  # the thermal printer, spoken to directly (the PDF is kept either way)
                from ...printing import escpos

                escpos.print_slip(self.settings.escpos, slip, open_drawer=escpos.opens_drawer(slip))
            return path, slip

        Op(self, render).success(printed).failure(failed).run()

    def reprint(self) -> None:
        """F10: reprint any earlier slip, marked as a reprint (its own permission)."""
        if not self.user.may("reprint"):
            self.show_error(ServiceError(f"{self.user.role_name}无补打权限"))
            return
        dialog = SettlementDialog(self, "补打结算单", approval=False, setl_no=self.last_setl_no or "")
        dialog.accepted.connect(lambda: self.print_slip(dialog.setl_no.text().strip(), reprint=True))
        self._open(dialog)

    def refund(self) -> None:
        """F11: show what will be reversed, take a supervisor's approval, then reverse it all."""
        if not self.user.may("refund"):
            self.show_error(ServiceError(f"{self.user.role_name}无退费权限"))
            return
        dialog = SettlementDialog(self, "退费", approval=True, setl_no=self.last_setl_no or "")

        def accepted() -> None:
            setl_no, staff_no = dialog.setl_no.text().strip(), dialog.staff_no.text()
            password, reason = dialog.password.text(), dialog.reason.text()
            to_cash = dialog.to_cash.isChecked()
            returned, total = dialog.returned(), dialog.lines.count()

            inpatient_counter, centre = self.kind == "inpatient", self.settings.centre

            def run() -> tuple[str, str, str]:
                approval = approve_refund(self.db, self.settings.context, staff_no, password, setl_no)
                if inpatient_counter:  # 2305 with the centre, online; the stay opens again
                    if centre is None:
                        raise ServiceError("撤销住院结算需联网医保中心：本窗口未配置医保中心地址")
                    cancelled = inpatient.cancel(
                        self.db, self.settings.context, setl_no, approval, reason, centre
                    )
                    return cancelled, "", ""
                if total and len(returned) < total:  # some lines kept: cancel and settle them again
                    from ...services.partial_refund import refund_lines

                    part = refund_lines(self.db, self.settings.context, setl_no, approval, reason, returned)
                    return part.refund.setl_no, part.describe(), part.resettled.setl_no
                done = svc.refund(self.db, self.settings.context, setl_no, approval, reason, to_cash=to_cash)
                back = "应退：" + "，".join(f"{TENDERS.get(m, m)} {fmt(-a)}" for m, a in done.parts if a)
                return done.setl_no, back if done.parts and any(a for _, a in done.parts) else "", ""

            def done(result: tuple[str, str, str]) -> None:
                reversal, back, resettled = result
                self.last_setl_no = reversal
                self.preview_panel.show_preview(None, {})  # the original's split and change are gone
                self.preview_panel.status.setText(f"已退费　退费单号 {reversal}")
                self.say(
                    f"{'撤销住院结算' if inpatient_counter else '退费'}成功 {reversal}（原 {setl_no}）"
                    + (f"；{back}" if back else "")
                )
                if resettled:  # a partial refund: the kept lines' new slip too
                    self.print_slip(resettled)
                self.print_slip(reversal)
                self.refresh_status()
                if inpatient_counter and self.person is not None:
                    self.load_stay(f"撤销住院结算成功（原 {setl_no}）")

            Op(self, run).success(done).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)
