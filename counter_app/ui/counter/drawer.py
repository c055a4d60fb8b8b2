"""The drawer and the day: opening and closing the shift, closing the day, the upload queue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ...engine.money import fmt
from ...services import settlement as svc
from ...services.errors import ServiceError
from ...services.shift import (
    HeldShift,
    ShiftHasPending,
    ShiftReport,
    ShiftState,
    Totals,
    close_shift,
    hand_over,
    held_by_another,
    open_shift,
    shift_state,
)
from ...services.sync_status import OutboxEntry
from ..dialogs.outbox import OutboxDialog
from ..dialogs.shift import CloseShiftDialog, DayCloseDialog, HandoverDialog, OpenShiftDialog
from ..qt import QObject, Signal
from .desk import Desk
from .widgets import money_text as _money_text
from .widgets import unsent_summary


class DrawerFlow(QObject):
    """Owns this cashier's shift at this counter (`shift`) and its last report. A role that takes
    no money is asked for no float: `takes_no_money` says so (the agency clerk's desk opens)."""

    takes_no_money = Signal()
    status_changed = Signal()  # something went up or was closed: the status bar looks again

    def __init__(self, desk: Desk) -> None:
        super().__init__(desk)
        self.desk = desk
        self.shift: ShiftState | None = None
        self.last_shift_report: Path | None = None

    def check_shift(self) -> None:
        """Ask for the opening float when this cashier has no open shift at this counter; when
        another cashier holds this counter's shift, say who and offer the supervisor's handover."""
        desk = self.desk
        if not desk.user.may("shift"):
            if desk.user.may("batch"):
                self.takes_no_money.emit()
            return
        ctx = desk.settings.context

        def checked(found: tuple[ShiftState | None, HeldShift | None]) -> None:
            state, held = found
            self.shift = state
            if state is None and held is not None:
                self.handover_dialog(held)
            elif state is None:
                self.open_shift_dialog()

        desk.run(lambda: (shift_state(desk.db, ctx), held_by_another(desk.db, ctx))).success(checked).run()

    def _write_shift_report(self, report: ShiftReport) -> Path:
        """The shift report PDF beside the slips (run in the worker thread, as the close is)."""
        from ...printing import shift_report

        settings = self.desk.settings
        name = svc.institution_label(self.desk.db, settings.context.institution_code)[0]
        path = settings.slip_dir / f"shift-{report.shift_id}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shift_report.render(report, name))
        return path

    def handover_dialog(self, held: HeldShift, problem: str = "") -> None:
        desk = self.desk
        dialog = HandoverDialog(desk, held, problem)

        def accepted() -> None:
            supervisor, password, counted = (
                dialog.supervisor.text(),
                dialog.password.text(),
                dialog.counted.text(),
            )
            context = desk.settings.context

            def run() -> tuple[ShiftReport, Path]:
                report = hand_over(desk.db, context, supervisor, password, _money_text(counted, "实点现金"))
                return report, self._write_shift_report(report)

            def done(result: tuple[ShiftReport, Path]) -> None:
                report, path = result
                self.last_shift_report = path
                desk.say(
                    f"{held.cashier_name} 的班次已由主管代为交班：应有现金 {fmt(report.expected_cash)}，"
                    f"实点 {fmt(report.counted_cash)}，差额 {fmt(report.difference)}；交班报表 {path.name}"
                )
                self.check_shift()

            desk.run(run).success(done).failure(lambda exc: self.handover_dialog(held, str(exc))).run()

        def rejected() -> None:
            desk.say(f"{held.describe()}：请 {held.cashier_name} 登录本窗口交班（F7），或由主管代为交班")

        dialog.accepted.connect(accepted)
        dialog.rejected.connect(rejected)
        desk.open(dialog)

    def open_shift_dialog(self, problem: str = "") -> None:
        desk = self.desk
        dialog = OpenShiftDialog(desk, problem)

        def accepted() -> None:
            typed, context = dialog.opening_float.text(), desk.settings.context

            def failed(exc: Exception) -> None:
                desk.show_error(exc)
                held = held_by_another(desk.db, desk.settings.context)
                if held is not None:  # someone else's shift is in the way: the handover, not a loop
                    self.handover_dialog(held, str(exc))
                else:
                    self.open_shift_dialog(str(exc))  # the reason in the dialog, not behind it

            def opened(_shift_id: int) -> None:
                desk.say("已开班，可以收费")
                self.check_shift()
                self.centre_sign("in")

            desk.run(lambda: open_shift(desk.db, context, _money_text(typed, "备用金"))).success(
                opened
            ).failure(failed).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)

    def centre_sign(self, way: str) -> None:
        """9001 when the shift opens, 9002 when it closes (offline: the sync signs in before it sends)."""
        desk = self.desk
        centre, ctx = desk.settings.centre, desk.settings.context
        if centre is None:
            return
        if way == "in":
            desk.run(lambda: centre.sign_in(ctx.institution_code, ctx.cashier, ctx.name)).success(
                lambda sign_no: desk.say(f"已开班，可以收费；医保已签到（签到号 {sign_no}）")
            ).failure(lambda exc: desk.say(f"已开班，可以收费；医保未签到：{exc}")).run()
        else:
            errors = desk.message.errors
            desk.run(lambda: centre.sign_out(ctx.institution_code, ctx.cashier, ctx.name)).success(
                lambda signed: errors.append("医保已签退" if signed else "医保无需签退")
            ).failure(lambda exc: errors.append(f"医保签退未完成：{exc}")).run()

    def close_shift(self) -> None:
        """F7: count the drawer, see the totals and anything not yet sent, close and print."""
        desk = self.desk
        dialog = CloseShiftDialog(desk)

        def accepted() -> None:
            acknowledged, typed, context = (
                dialog.acknowledge.isChecked(),
                dialog.counted.text(),
                desk.settings.context,
            )

            def run() -> tuple[ShiftReport, Path]:
                counted = _money_text(typed, "实点现金")
                report = close_shift(desk.db, context, counted, acknowledge_pending=acknowledged)
                return report, self._write_shift_report(report)

            def done(result: tuple[ShiftReport, Path]) -> None:
                report, path = result
                self.last_shift_report = path
                desk.say(
                    f"已交班：应有现金 {fmt(report.expected_cash)}，实点 {fmt(report.counted_cash)}，"
                    f"差额 {fmt(report.difference)}；交班报表 {path.name}"
                )
                self.check_shift()
                desk.back_up("shift")
                self.centre_sign("out")

            def failed(exc: Exception) -> None:
                desk.show_error(exc)
                if isinstance(exc, ShiftHasPending):
                    self.close_shift()  # show the list; the cashier confirms to close anyway

            desk.run(run).success(done).failure(failed).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)

    def close_day(self) -> None:
        from ...services.shift import close_day
        from ...services.sync_status import unsent

        desk = self.desk
        dialog = DayCloseDialog(desk)

        def accepted() -> None:
            text, context = dialog.day.text().strip(), desk.settings.context

            def run() -> tuple[dt.date, Totals, list[OutboxEntry]]:
                try:
                    day = dt.date.fromisoformat(text)
                except ValueError:
                    raise ServiceError(f"日期应为 YYYY-MM-DD：{text}") from None
                return day, close_day(desk.db, context, day), unsent(desk.db)

            def done(result: tuple[dt.date, Totals, list[OutboxEntry]]) -> None:
                day, t, waiting = result
                desk.say(
                    f"{day} 已日结：结算 {t.settlements} 笔，退费 {t.refunds} 笔，医疗费 {fmt(t.medfee)}，"
                    f"统筹 {fmt(t.fund)}，个人账户 {fmt(t.own_accounts)}，家庭共济 {fmt(t.family_accounts)}"
                    + unsent_summary(waiting, dt.datetime.now())
                    + f"；审计锚点 {t.anchor}（请抄录留存）"
                )
                desk.back_up("day")

            desk.run(run).success(done).run()

        dialog.accepted.connect(accepted)
        desk.open(dialog)

    def outbox(self) -> None:
        """F12 (supervisors): what has not reached the centre, and why."""
        desk = self.desk
        if not desk.user.may("outbox"):
            desk.refuse(f"{desk.user.role_name}无权查看上传队列")
            return
        desk.open(OutboxDialog(desk))
