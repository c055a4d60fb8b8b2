"""The drawer and the day: opening and closing the shift, closing the day, the upload queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from ...engine.money import fmt
from ...services import settlement as svc
from ...services.errors import ServiceError
from ...services.shift import (
    HeldShift,
    ShiftHasPending,
    ShiftReport,
    ShiftState,
    close_shift,
    hand_over,
    held_by_another,
    open_shift,
    shift_state,
)
from ..dialogs.outbox import OutboxDialog
from ..dialogs.shift import CloseShiftDialog, DayCloseDialog, HandoverDialog, OpenShiftDialog
from ..ops import Op
from .widgets import money_text as _money_text
from .widgets import unsent_summary

if TYPE_CHECKING:
    pass


class DrawerMixin:
    """Part of CounterWindow (window.py); `self` is the window."""

    def check_shift(self) -> None:
        """Ask for the opening float when this cashier has no open shift at this counter; when
        another cashier holds this counter's shift, say who and offer the supervisor's handover. A
        role that takes no money (the agency clerk) is asked for no float: its desk opens."""
        if not self.user.may("shift"):
            if self.user.may("batch"):
                self.agency_desk()
            return
        ctx = self.settings.context

        def checked(found: tuple[ShiftState | None, HeldShift | None]) -> None:
            state, held = found
            self.shift = state
            if state is None and held is not None:
                self.handover_dialog(held)
            elif state is None:
                self.open_shift_dialog()

        Op(self, lambda: (shift_state(self.db, ctx), held_by_another(self.db, ctx))).success(checked).run()

    def write_shift_report(self, report: ShiftReport) -> Path:
        """The shift report PDF beside the slips (run in the worker thread, as the close is)."""
        from ...printing import shift_report

        name = svc.institution_label(self.db, self.settings.context.institution_code)[0]
        path = self.settings.slip_dir / f"shift-{report.shift_id}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shift_report.render(report, name))
        return path

    def handover_dialog(self, held: HeldShift, problem: str = "") -> None:
        dialog = HandoverDialog(self, held, problem)

        def accepted() -> None:
            supervisor, password, counted = (
                dialog.supervisor.text(),
                dialog.password.text(),
                dialog.counted.text(),
            )

            def run() -> tuple:
                report = hand_over(
                    self.db, self.settings.context, supervisor, password, _money_text(counted, "实点现金")
                )
                return report, self.write_shift_report(report)

            def done(result: tuple) -> None:
                report, path = result
                self.last_shift_report = path
                self.say(
                    f"{held.cashier_name} 的班次已由主管代为交班：应有现金 {fmt(report.expected_cash)}，"
                    f"实点 {fmt(report.counted_cash)}，差额 {fmt(report.difference)}；交班报表 {path.name}"
                )
                self.check_shift()

            Op(self, run).success(done).failure(lambda exc: self.handover_dialog(held, str(exc))).run()

        def rejected() -> None:
            self.say(f"{held.describe()}：请 {held.cashier_name} 登录本窗口交班（F7），或由主管代为交班")

        dialog.accepted.connect(accepted)
        dialog.rejected.connect(rejected)
        self._open(dialog)

    def open_shift_dialog(self, problem: str = "") -> None:
        dialog = OpenShiftDialog(self, problem)

        def accepted() -> None:
            def run() -> int:
                return open_shift(
                    self.db, self.settings.context, _money_text(dialog.opening_float.text(), "备用金")
                )

            def failed(exc: Exception) -> None:
                self.show_error(exc)
                held = held_by_another(self.db, self.settings.context)
                if held is not None:  # someone else's shift is in the way: the handover, not a loop
                    self.handover_dialog(held, str(exc))
                else:
                    self.open_shift_dialog(str(exc))  # the reason in the dialog, not behind it

            Op(self, run).success(
                lambda _: (self.say("已开班，可以收费"), self.check_shift(), self.centre_sign("in"))
            ).failure(failed).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def centre_sign(self, way: str) -> None:
        """9001 when the shift opens, 9002 when it closes (offline: the sync signs in before it sends)."""
        centre, ctx = self.settings.centre, self.settings.context
        if centre is None or not hasattr(centre, "sign_in"):
            return
        if way == "in":
            Op(self, lambda: centre.sign_in(ctx.institution_code, ctx.cashier, ctx.name)).success(
                lambda sign_no: self.say(f"已开班，可以收费；医保已签到（签到号 {sign_no}）")
            ).failure(lambda exc: self.say(f"已开班，可以收费；医保未签到：{exc}")).run()
        else:
            Op(self, lambda: centre.sign_out(ctx.institution_code, ctx.cashier, ctx.name)).success(
                lambda signed: self.errors.append("医保已签退" if signed else "医保无需签退")
            ).failure(lambda exc: self.errors.append(f"医保签退未完成：{exc}")).run()

    def close_shift(self) -> None:
        """F7: count the drawer, see the totals and anything not yet sent, close and print."""
        dialog = CloseShiftDialog(self)

        def accepted() -> None:
            acknowledged = dialog.acknowledge.isChecked()

            def run() -> tuple:
                counted = _money_text(dialog.counted.text(), "实点现金")
                report = close_shift(
                    self.db, self.settings.context, counted, acknowledge_pending=acknowledged
                )
                return report, self.write_shift_report(report)

            def done(result: tuple) -> None:
                report, path = result
                self.last_shift_report = path
                self.say(
                    f"已交班：应有现金 {fmt(report.expected_cash)}，实点 {fmt(report.counted_cash)}，"
                    f"差额 {fmt(report.difference)}；交班报表 {path.name}"
                )
                self.check_shift()
                self.back_up("shift")
                self.centre_sign("out")

            def failed(exc: Exception) -> None:
                self.show_error(exc)
                if isinstance(exc, ShiftHasPending):
                    self.close_shift()  # show the list; the cashier confirms to close anyway

            Op(self, run).success(done).failure(failed).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def close_day(self) -> None:
        from ...services.shift import close_day
        from ...services.sync_status import unsent

        dialog = DayCloseDialog(self)

        def accepted() -> None:
            text = dialog.day.text().strip()

            def run():
                try:
                    day = dt.date.fromisoformat(text)
                except ValueError:
                    raise ServiceError(f"日期应为 YYYY-MM-DD：{text}") from None
                return day, close_day(self.db, self.settings.context, day), unsent(self.db)

            def done(result) -> None:
                day, t, waiting = result
                self.say(
                    f"{day} 已日结：结算 {t.settlements} 笔，退费 {t.refunds} 笔，医疗费 {fmt(t.medfee)}，"
                    f"统筹 {fmt(t.fund)}，个人账户 {fmt(t.own_accounts)}，家庭共济 {fmt(t.family_accounts)}"
                    + unsent_summary(waiting, dt.datetime.now())
                    + f"；审计锚点 {t.anchor}（请抄录留存）"
                )
                self.back_up("day")

            Op(self, run).success(done).run()

        dialog.accepted.connect(accepted)
        self._open(dialog)

    def outbox(self) -> None:
        """F12 (supervisors): what has not reached the centre, and why."""
        if not self.user.may("outbox"):
            self.show_error(ServiceError(f"{self.user.role_name}无权查看上传队列"))
            return
        self._open(OutboxDialog(self))
