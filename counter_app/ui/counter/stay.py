"""The inpatient counter: the stay, admission, fees posted to it, and its settlement with the centre."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from ...engine.money import ZERO, fmt
from ...services import inpatient
from ...services import settlement as svc
from ...services.catalogue import CatalogueEntry
from ..dialogs.admission import AdmitDialog
from ..qt import QObject, Signal
from .claim import ClaimPanel
from .desk import Desk
from .settings import Line
from .settlement_panel import PreviewPanel
from .slips import Slips
from .widgets import money_text as _money_text


def _lines(fees: tuple[inpatient.StayFee, ...]) -> list[Line]:
    return [
        Line(CatalogueEntry(f.code, f.name, f.cls, f.price, "", ZERO, True), f.quantity, f.centre_note)
        for f in fees
    ]


class StayFlow(QObject):
    """Owns the person's open stay (`stay`, from the store; its fees are the claim's lines) and the
    discharge the centre priced (`discharge`, what F9 settles). Says `settled(setl_no)`."""

    settled = Signal(str)

    def __init__(self, desk: Desk, claim: ClaimPanel, panel: PreviewPanel, slips: Slips) -> None:
        super().__init__(desk)
        self.desk, self.claim, self.panel, self.slips = desk, claim, panel, slips
        self.stay: inpatient.Stay | None = None
        self.discharge: inpatient.DischargePreview | None = None
        claim.fee.connect(self.post_fee)

    def reset(self) -> None:
        self.stay = self.discharge = None

    def void(self) -> None:
        """The claim changed: the discharge priced before is not what F9 would settle."""
        self.discharge = None

    def _now(self) -> dt.datetime:
        """Now; on a counter with a fixed date (training, tests) that date at the present time, so
        an admission, its fees and its discharge keep one calendar."""
        real, today = dt.datetime.now(), self.desk.settings.today
        return real if today is None else dt.datetime.combine(today, real.time())

    def load_stay(self, note: str = "") -> None:
        """The person's open stay from the store; `note` (what was just done) leads the message."""
        desk, person = self.desk, self.claim.person
        if person is None:
            return
        context = desk.settings.context

        def show(stay: inpatient.Stay | None) -> None:
            if self.claim.person is not person:
                return  # another patient was scanned meanwhile
            self.stay, self.discharge = stay, None
            self.claim.set_lines(_lines(stay.fees) if stay else [])
            lead = f"{note}；" if note else ""
            if stay is None:
                desk.say(f"{lead}该参保人不在院：按 F4 办理入院（收取押金）")
            else:
                desk.say(
                    f"{lead}在院 {stay.adm_no}，{stay.admitted_at:%Y-%m-%d} 入院，押金 {fmt(stay.deposit)}，"
                    f"已记费用 {fmt(stay.fees_total)}"
                )

        desk.run(lambda: inpatient.current_stay(desk.db, context, person.id)).success(show).run()

    def admit(self) -> None:
        """F4 (inpatient): admission with a deposit; the person is hospitalized from now on."""
        desk, person = self.desk, self.claim.person
        if desk.kind != "inpatient" or person is None:
            return
        if self.stay is not None:
            desk.refuse(f"{person.name} 已在院（{self.stay.adm_no}）")
            return
        dialog = AdmitDialog(desk.window, person.name)

        def accepted() -> None:
            tender, typed = dialog.tender.currentData(), dialog.deposit.text()
            dept_code, doctor_code, diagnoses = self.claim.visit_panel.fields()
            db, context, now = desk.db, desk.settings.context, self._now()

            def run() -> str:
                return inpatient.admit(
                    db,
                    context,
                    person.id,
                    _money_text(typed, "押金"),
                    tender=tender,
                    cert_type=person.cert_type,
                    cert_no=person.cert_no,
                    now=now,
                    dept_code=dept_code,
                    doctor_code=doctor_code,
                    diagnoses=diagnoses,
                )

            def admitted(adm_no: str) -> None:
                self.load_stay(f"已入院 {adm_no}")
                self.claim.focus()  # the fee codes typed next are items, not a person to look up

            desk.run(run).success(admitted).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)

    def post_fee(self, code: str, quantity: Decimal) -> None:
        desk = self.desk
        if self.stay is None:
            desk.refuse("该参保人不在院，请先办理入院（F4）")
            return
        adm_no, at, context = self.stay.adm_no, self._now(), desk.settings.context
        desk.run(lambda: inpatient.post_fee(desk.db, context, adm_no, code, quantity, now=at)).success(
            lambda _: self.load_stay()
        ).run()

    def preview_discharge(self) -> None:
        desk, claim = self.desk, self.claim
        if claim.person is None or not claim.lines:
            desk.refuse("请先扫码并录入收费项目")
            return
        if self.stay is None:
            desk.refuse("该参保人不在院")
            return
        centre = desk.settings.centre
        if centre is None:
            desk.refuse("住院结算由医保中心计算，需联网：本窗口未配置医保中心地址（启动时 --centre）")
            return
        adm_no, day, med_type = self.stay.adm_no, desk.settings.visit_date(), claim.med_type.currentData()
        interim, use_account, context = (
            claim.interim.isChecked(),
            claim.use_own.isChecked(),
            desk.settings.context,
        )

        def run() -> inpatient.DischargePreview:
            return inpatient.discharge_preview(
                desk.db,
                context,
                adm_no,
                day,
                centre,
                med_type=med_type,
                interim=interim,
                use_account=use_account,
            )

        desk.run(run).success(self.show_discharge).run()

    def show_discharge(self, pv: inpatient.DischargePreview, note: str = "") -> None:
        """The centre's fund payment, the local split of the personal part, and the deposit; the
        lines as the centre classed them (the stay's queue went up first)."""
        self.claim.show_lines(_lines(pv.stay.fees))
        self.discharge = pv
        when = "中途结算" if pv.interim else "出院"
        deposit = (
            f"医保中心：统筹基金支付 {fmt(pv.preview.result.fund_pay_sumamt)}（本次起付线 "
            f"{fmt(pv.preview.result.act_pay_dedc)}）；押金 {fmt(pv.stay.deposit)}："
            + (
                f"{when}应补收 {fmt(pv.to_collect)}"
                if pv.to_collect or pv.interim
                else f"出院应退还 {fmt(pv.to_refund)}"
            )
        )
        self.panel.show_preview(
            pv.preview, self.claim.provider_names(), f"{note}\n{deposit}" if note else deposit
        )
        # the big figure is what the drawer does: collect, or pay the deposit back
        if pv.to_collect or pv.interim:
            self.panel.show_due(f"{when}应补收", pv.to_collect)
        else:
            self.panel.show_due("出院应退还", pv.to_refund, refund=True)

    def confirm_discharge(self) -> None:
        desk, pv = self.desk, self.discharge
        if pv is None:
            desk.refuse("请先预结算（F5），向参保人确认分摊后再结算")
            return
        tender, med_type = self.panel.tender.currentData(), self.claim.med_type.currentData()
        centre, context = desk.settings.centre, desk.settings.context
        if centre is None:  # the discharge was priced by the centre: the setting changed since
            desk.refuse("住院结算由医保中心计算，需联网：本窗口未配置医保中心地址（启动时 --centre）")
            return

        def done(result: inpatient.Discharged) -> None:
            setl_no = result.settled.setl_no
            desk.say(
                f"{'中途' if pv.interim else '出院'}结算成功 {setl_no}；押金抵扣 "
                f"{fmt(result.applied)}，补收 {fmt(result.to_collect)}，退还 {fmt(result.to_refund)}"
            )
            self.slips.print_slip(setl_no)
            self.discharge = None
            self.panel.show_settled(setl_no)
            self.settled.emit(setl_no)

        def refused(exc: Exception) -> None:
            if isinstance(exc, inpatient.DischargeChanged):  # nothing recorded: the new split to confirm
                self.show_discharge(exc.discharge, str(exc))
                desk.message.errors.append(str(exc))
                return
            if isinstance(exc, svc.SplitChanged):
                self.preview_discharge()
            desk.show_error(exc)

        at = self._now()
        desk.run(
            lambda: inpatient.discharge(
                desk.db, context, pv.stay.adm_no, pv, centre, med_type=med_type, tender=tender, now=at
            )
        ).success(done).failure(refused).run()
