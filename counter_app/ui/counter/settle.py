"""Pre-settle, settle and refund: the money steps of the outpatient and pharmacy counter (the
inpatient counter's discharge is stay.py's)."""

from __future__ import annotations

from ... import labels
from ...engine.money import ZERO, fmt
from ...services import elsewhere, inpatient, self_pay
from ...services import settlement as svc
from ...services.errors import ServiceError
from ...services.staff import approve_refund
from ...services.tenders import TENDERS
from ..dialogs.settlement import SettlementDialog
from ..qt import QObject, Signal
from .claim import ClaimPanel
from .desk import Desk
from .settlement_panel import PreviewPanel
from .slips import Slips
from .widgets import money_text as _money_text


class SettleFlow(QObject):
    """Owns the preview the patient was shown (`shown`): F9 settles exactly that, and any change
    to the claim voids it. Says `settled(setl_no)` once a settlement is recorded and its slip asked
    for, `refunded(note)` once a refund is."""

    settled = Signal(str)
    refunded = Signal(str)

    def __init__(self, desk: Desk, claim: ClaimPanel, panel: PreviewPanel, slips: Slips) -> None:
        super().__init__(desk)
        self.desk, self.claim, self.panel, self.slips = desk, claim, panel, slips
        self.shown: svc.Preview | self_pay.SelfPayPreview | None = None

    def void(self) -> None:
        self.shown = None
        self.panel.show_preview(None, {})

    # ----- F5

    def preview(self) -> None:
        desk, claim = self.desk, self.claim
        if claim.self_paying:
            self._preview_self_pay()
            return
        person = claim.person
        if person is None or not claim.lines:
            desk.refuse("请先扫码并录入收费项目")
            return
        request, settings = claim.request(), desk.settings

        def shown(pv: svc.Preview) -> None:
            if claim.person is not person or request != claim.request():
                return  # the claim changed while previewing
            self.shown = pv
            self.panel.show_preview(pv, claim.provider_names())
            desk.message.setText("")
            if pv.result.psn_cash_pay and self.panel.tender.currentData() == "cash":
                self.panel.tendered.setFocus()  # the cashier types what was handed over; F9 settles
            if settings.centre is not None and settings.centre_presettle and not person.out_of_area:
                self._ask_centre(pv)

        if person.out_of_area:  # the centre prices a patient insured elsewhere (decision 12)
            centre = settings.centre

            def shown_elsewhere(pv: svc.Preview) -> None:
                shown(pv)
                self.panel.notice.setText(f"异地就医：医保中心按参保地 {person.insuplc_admdvs} 政策预结算")

            desk.run(lambda: elsewhere.preview(desk.db, settings.context, request, centre)).success(
                shown_elsewhere
            ).run()
            return
        desk.run(lambda: svc.preview(desk.db, settings.context, request)).success(shown).run()

    def _preview_self_pay(self) -> None:
        """F5 for a self-pay visit: the whole amount is the patient's, in cash; nothing is asked
        of the centre."""
        desk, claim = self.desk, self.claim
        if not claim.lines:
            desk.refuse("请先录入收费项目")
            return
        request, context = claim.self_pay_request(), desk.settings.context

        def shown(pv: self_pay.SelfPayPreview) -> None:
            if request != claim.self_pay_request():
                return
            self.shown = pv
            self.panel.show_preview(pv, {}, f"自费：{pv.payer} 全额自付，不使用医保")
            desk.message.setText("")
            if self.panel.tender.currentData() == "cash":
                self.panel.tendered.setFocus()

        desk.run(lambda: self_pay.preview(desk.db, context, request)).success(shown).run()

    def _ask_centre(self, pv: svc.Preview) -> None:
        """The centre's own pre-settlement (2206) beside the preview, before the patient confirms
        (a setting, off by default: it adds round trips). A difference is shown, not enforced: the
        counter settles with its engine and the centre's answer is compared again on 2207."""
        desk, person = self.desk, self.claim.person
        centre, ctx = desk.settings.centre, desk.settings.context
        if centre is None or person is None:
            return  # asked only with a centre, from a preview of the person on screen

        def said(diff: dict[str, list[str]]) -> None:
            if self.shown is not pv:
                return  # the claim changed meanwhile
            if not diff:
                desk.say("医保中心预结算与本地一致")
                return
            text = "医保中心预结算与本地不同：" + "，".join(
                f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {a} 中心 {b}" for k, (a, b) in diff.items()
            )
            self.panel.notice.setText(text + "；结算后将标记，待主管核对")
            desk.message.errors.append(text)

        desk.run(lambda: centre.outpatient_check(ctx, pv, person.cert_type, person.cert_no)).success(
            said
        ).failure(lambda exc: desk.say(f"未能向医保中心预结算（{exc}）：仍可按本地预结算结算")).run()

    # ----- F9

    def confirm(self) -> None:
        desk, claim, panel = self.desk, self.claim, self.panel
        confirmed = self.shown
        if confirmed is None:
            desk.refuse("请先预结算（F5），向参保人确认分摊后再结算")
            return
        person = claim.person
        elsewhere_insured = person is not None and person.out_of_area
        tender, tendered = panel.tender.currentData(), None
        try:
            paid_by = panel.paid_by()
        except ServiceError as exc:
            desk.show_error(exc)
            return
        if paid_by:
            tender = "cash"  # the balance after card and apps
        if paid_by and (isinstance(confirmed, self_pay.SelfPayPreview) or elsewhere_insured):
            desk.refuse("组合支付只用于本地医保结算；自费和异地结算请选一种支付方式")
            return
        if tender == "cash" and panel.tendered.text().strip():
            try:
                tendered = _money_text(panel.tendered.text(), "实收")
            except ServiceError as exc:
                desk.show_error(exc)
                return

        def settled(done: svc.Settled) -> None:
            cash = done.result.psn_cash_pay - sum((a for _, a in paid_by), ZERO)
            change = f"，实收 {fmt(tendered)}，找零 {fmt(tendered - cash)}" if tendered is not None else ""
            means = (
                "（" + "，".join(f"{TENDERS[m]} {fmt(a)}" for m, a in paid_by) + "，其余现金）"
                if paid_by
                else ""
            )
            desk.say(f"结算成功，应收现金 {fmt(cash)}{means}{change}")
            self.slips.print_slip(done.setl_no)
            self.show_settled(done.setl_no)

        def refused(exc: Exception) -> None:
            if isinstance(exc, svc.SplitChanged):
                self.shown = exc.preview  # show the new split; the cashier confirms again
                panel.show_preview(exc.preview, claim.provider_names(), exc.message)
                desk.message.errors.append(exc.message)
            else:
                desk.show_error(exc)

        db, context = desk.db, desk.settings.context
        if isinstance(confirmed, self_pay.SelfPayPreview):
            paying = claim.self_pay_request()
            desk.run(lambda: self_pay.settle(db, context, paying, tender=tender, tendered=tendered)).success(
                settled
            ).failure(refused).run()
            return
        request, centre = claim.request(), desk.settings.centre
        if elsewhere_insured:
            desk.run(
                lambda: elsewhere.settle(
                    db, context, request, confirmed, centre, tender=tender, tendered=tendered
                )
            ).success(settled).failure(refused).run()
            return
        desk.run(
            lambda: svc.settle(
                db, context, request, confirmed, tender=tender, tendered=tendered, paid_by=paid_by
            )
        ).success(settled).failure(refused).run()

    def show_settled(self, setl_no: str) -> None:
        """The settled split stays on screen, marked 已结算, until the next scan or Esc; nothing can be
        settled twice from it (F9 needs a new preview)."""
        self.shown = None
        self.panel.show_settled(setl_no)
        self.settled.emit(setl_no)

    # ----- F11

    def refund(self) -> None:
        """F11: show what will be reversed, take a supervisor's approval, then reverse it all."""
        desk = self.desk
        if not desk.user.may("refund"):
            desk.refuse(f"{desk.user.role_name}无退费权限")
            return
        dialog = SettlementDialog(desk, "退费", approval=True, setl_no=self.slips.last_setl_no or "")

        def accepted() -> None:
            setl_no, staff_no = dialog.setl_no.text().strip(), dialog.staff_no.text()
            password, reason = dialog.password.text(), dialog.reason.text()
            to_cash = dialog.to_cash.isChecked()
            returned, total = dialog.returned(), dialog.lines.count()
            inpatient_counter, centre = desk.kind == "inpatient", desk.settings.centre
            db, context = desk.db, desk.settings.context

            def run() -> tuple[str, str, str]:
                approval = approve_refund(db, context, staff_no, password, setl_no)
                if inpatient_counter:  # 2305 with the centre, online; the stay opens again
                    if centre is None:
                        raise ServiceError("撤销住院结算需联网医保中心：本窗口未配置医保中心地址")
                    return inpatient.cancel(db, context, setl_no, approval, reason, centre), "", ""
                if total and len(returned) < total:  # some lines kept: cancel and settle them again
                    from ...services.partial_refund import refund_lines

                    part = refund_lines(db, context, setl_no, approval, reason, returned)
                    return part.refund.setl_no, part.describe(), part.resettled.setl_no
                done = svc.refund(db, context, setl_no, approval, reason, to_cash=to_cash)
                back = "应退：" + "，".join(f"{TENDERS.get(m, m)} {fmt(-a)}" for m, a in done.parts if a)
                return done.setl_no, back if done.parts and any(a for _, a in done.parts) else "", ""

            def done(result: tuple[str, str, str]) -> None:
                reversal, back, resettled = result
                self.panel.show_preview(None, {})  # the original's split and change are gone
                self.panel.status.setText(f"已退费　退费单号 {reversal}")
                desk.say(
                    f"{'撤销住院结算' if inpatient_counter else '退费'}成功 {reversal}（原 {setl_no}）"
                    + (f"；{back}" if back else "")
                )
                if resettled:  # a partial refund: the kept lines' new slip too
                    self.slips.print_slip(resettled)
                self.slips.print_slip(reversal)
                self.refunded.emit(f"撤销住院结算成功（原 {setl_no}）" if inpatient_counter else "")

            desk.run(run).success(done).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)
