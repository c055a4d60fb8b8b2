"""The inpatient counter: the stay, admission, fees posted to it, and its settlement with the centre."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from ...engine.money import ZERO, fmt
from ...services import inpatient
from ...services import settlement as svc
from ...services.catalogue import CatalogueEntry
from ...services.errors import ServiceError
from ..dialogs.admission import AdmitDialog
from ..ops import Op
from .settings import Line
from .widgets import money_text as _money_text

if TYPE_CHECKING:
    pass


class StayMixin:
    """Part of CounterWindow (window.py); `self` is the window."""

    def _now(self) -> dt.datetime:
        """Now; on a counter with a fixed date (training, tests) that date at the present time, so
        an admission, its fees and its discharge keep one calendar."""
        real = dt.datetime.now()
        return real if self.settings.today is None else dt.datetime.combine(self.settings.today, real.time())

    # ----- inpatient: the stay's fees live in the store, not in the window

    def load_stay(self, note: str = "") -> None:
        """The person's open stay from the store; `note` (what was just done) leads the message."""
        person_id = self.person.id if self.person else None
        if person_id is None:
            return

        def show(stay: inpatient.Stay | None) -> None:
            self.stay, self.discharge = stay, None
            self.lines = (
                [
                    Line(
                        CatalogueEntry(f.code, f.name, f.cls, f.price, "", ZERO, True),
                        f.quantity,
                        f.centre_note,
                    )
                    for f in stay.fees
                ]
                if stay
                else []
            )
            self.claim_changed()
            lead = f"{note}；" if note else ""
            if stay is None:
                self.say(f"{lead}该参保人不在院：按 F4 办理入院（收取押金）")
            else:
                self.say(
                    f"{lead}在院 {stay.adm_no}，{stay.admitted_at:%Y-%m-%d} 入院，押金 {fmt(stay.deposit)}，"
                    f"已记费用 {fmt(stay.fees_total)}"
                )

        Op(self, lambda: inpatient.current_stay(self.db, self.settings.context, person_id)).success(
            show
        ).run()

    def admit(self) -> None:
        """F4 (inpatient): admission with a deposit; the person is hospitalized from now on."""
        if self.kind != "inpatient" or self.person is None:
            return
        if self.stay is not None:
            self.show_error(ServiceError(f"{self.person.name} 已在院（{self.stay.adm_no}）"))
            return
        dialog = AdmitDialog(self)

        def accepted() -> None:
            person_id, tender = self.person.id, dialog.tender.currentData()
            cert_type, cert_no = self.person.cert_type, self.person.cert_no

            dept_code, doctor_code, diagnoses = self.visit_panel.fields()

            def run() -> str:
                deposit = _money_text(dialog.deposit.text(), "押金")
                return inpatient.admit(
                    self.db,
                    self.settings.context,
                    person_id,
                    deposit,
                    tender=tender,
                    cert_type=cert_type,
                    cert_no=cert_no,
                    now=self._now(),
                    dept_code=dept_code,
                    doctor_code=doctor_code,
                    diagnoses=diagnoses,
                )

            def admitted(adm_no: str) -> None:
                self.load_stay(f"已入院 {adm_no}")
                self.focus_search()  # the fee codes typed next are items, not a person to look up

            Op(self, run).success(admitted).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def _post_fee(self, code: str, quantity: Decimal) -> None:
        if self.stay is None:
            self.show_error(ServiceError("该参保人不在院，请先办理入院（F4）"))
            return
        adm_no = self.stay.adm_no
        at = self._now()
        Op(
            self, lambda: inpatient.post_fee(self.db, self.settings.context, adm_no, code, quantity, now=at)
        ).success(lambda _: self.load_stay()).run()

    def preview_discharge(self) -> None:
        if self.stay is None:
            self.show_error(ServiceError("该参保人不在院"))
            return
        centre = self.settings.centre
        if centre is None:
            self.show_error(
                ServiceError("住院结算由医保中心计算，需联网：本窗口未配置医保中心地址（启动时 --centre）")
            )
            return
        adm_no, day, med_type = self.stay.adm_no, self.settings.visit_date(), self.med_type.currentData()
        interim, use_account = self.interim.isChecked(), self.use_own.isChecked()

        def run() -> inpatient.DischargePreview:
            return inpatient.discharge_preview(
                self.db,
                self.settings.context,
                adm_no,
                day,
                centre,
                med_type=med_type,
                interim=interim,
                use_account=use_account,
            )

        Op(self, run).success(self.show_discharge).run()

    def show_discharge(self, pv: inpatient.DischargePreview, note: str = "") -> None:
        """The centre's fund payment, the local split of the personal part, and the deposit; the
        lines as the centre classed them (the stay's queue went up first)."""
        self.lines = [
            Line(CatalogueEntry(f.code, f.name, f.cls, f.price, "", ZERO, True), f.quantity, f.centre_note)
            for f in pv.stay.fees
        ]
        self._render_lines()
        self.discharge, self.shown = pv, pv.preview
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
        self.preview_panel.show_preview(
            pv.preview, self._provider_names(), f"{note}\n{deposit}" if note else deposit
        )
        # the big figure is what the drawer does: collect, or pay the deposit back
        if pv.to_collect or pv.interim:
            self.preview_panel.show_due(f"{when}应补收", pv.to_collect)
        else:
            self.preview_panel.show_due("出院应退还", pv.to_refund, refund=True)

    def confirm_discharge(self) -> None:
        pv, tender = self.discharge, self.preview_panel.tender.currentData()
        med_type, centre = self.med_type.currentData(), self.settings.centre

        def done(result: inpatient.Discharged) -> None:
            self.last_setl_no = result.settled.setl_no
            self.say(
                f"{'中途' if pv.interim else '出院'}结算成功 {result.settled.setl_no}；押金抵扣 "
                f"{fmt(result.applied)}，补收 {fmt(result.to_collect)}，退还 {fmt(result.to_refund)}"
            )
            self.print_slip(result.settled.setl_no)
            self.refresh_status()
            self.show_settled(result.settled.setl_no)

        def refused(exc: Exception) -> None:
            if isinstance(exc, inpatient.DischargeChanged):  # nothing recorded: the new split to confirm
                self.show_discharge(exc.discharge, str(exc))
                self.errors.append(str(exc))
                return
            if isinstance(exc, svc.SplitChanged):
                self.preview_discharge()
            self.show_error(exc)

        at = self._now()
        Op(
            self,
            lambda: inpatient.discharge(
                self.db,
                self.settings.context,
                pv.stay.adm_no,
                pv,
                centre,
                med_type=med_type,
                tender=tender,
                now=at,
            ),
        ).success(done).failure(refused).run()
