"""What every part of the counter window shares, and nothing else: the database, this counter's
settings, the message line, the background work and the one dialog open at a time.

The parts (the scan field, the claim, the money steps, the stay, the drawer) are each given the
desk, never the window: they talk to the services through it, and to each other through signals
the window connects. A dialog is given the desk too, with what it shows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ...services.actor import Actor, StaleActor
from ...services.errors import ServiceError, database_trouble
from ...store import Database
from .. import slip_printer
from ..ops import Op
from ..qt import QDialog, QLabel, QObject, QWidget, Signal, named
from .settings import COUNTER_KIND, CounterSettings

log = logging.getLogger("counter_app.ui.counter.window")


class MessageLine(QLabel):
    """The line under the scan field: what the cashier must act on (red) or what was done (green).
    Every message shown is kept, newest last (tests and the smoke visit read them)."""

    def __init__(self) -> None:
        super().__init__("")
        named(self, "message")
        self.setStyleSheet("color: #b00020")
        self.errors: list[str] = []

    def say(self, text: str) -> None:
        self.setStyleSheet("color: #1b5e20")
        self.setText(text)

    def warn(self, text: str) -> None:
        self.errors.append(text)
        self.setStyleSheet("color: #b00020")
        self.setText(text)


class Desk(QObject):
    """The counter's shared means; the host of every background op its parts run (`set_busy`,
    `show_error`), so the window is busy while any part waits on a service."""

    busy_changed = Signal(bool)
    stale = Signal(str)  # the services refused a stale actor: sign in again
    dialog_closed = Signal()

    def __init__(self, window: QWidget, db: Database, settings: CounterSettings) -> None:
        super().__init__(window)
        self.window, self.db, self.settings = window, db, settings
        self.message = MessageLine()
        self.busy = False
        self.dialog: QDialog | None = None  # the open dialog (tests and screenshots reach it here)

    @property
    def user(self) -> Actor:
        return self.settings.context

    @property
    def kind(self) -> str:
        """outpatient, pharmacy or inpatient: what this counter's role settles."""
        return COUNTER_KIND.get(self.user.role, "outpatient")

    # ----- background work

    def run(self, fn: Callable[[], Any]) -> Op:
        """A service call off the UI thread (`.success(...)`, `.failure(...)`, then `.run()`)."""
        return Op(self, fn)

    def set_busy(self, busy: bool) -> None:
        self.busy = busy
        self.busy_changed.emit(busy)

    # ----- what the cashier reads

    def say(self, text: str) -> None:
        self.message.say(text)

    def show_error(self, exc: Exception) -> None:
        if isinstance(exc, StaleActor):  # the staff row changed since sign-in: sign in again
            self.stale.emit(str(exc))
            return
        trouble = database_trouble(exc)  # a full disk or a lost database, in the cashier's words
        known = isinstance(exc, (ServiceError, ValueError, LookupError, slip_printer.PrinterError))
        text = trouble or (str(exc) if known else f"系统错误：{exc}")
        context = self.settings.context
        if (
            known and not trouble
        ):  # said to the cashier; the log keeps who, where and what (logs.Redact masks people)
            log.info("%s at %s: %s: %s", context.staff_no, context.counter, type(exc).__name__, exc)
        else:
            log.error(
                "%s at %s: unexpected %s", context.staff_no, context.counter, type(exc).__name__, exc_info=exc
            )
        self.message.warn(text)

    def refuse(self, text: str) -> None:
        """A step the cashier cannot take now, said as the services would."""
        self.show_error(ServiceError(text))

    # ----- dialogs and backups

    def open(self, dialog: QDialog, *, load: bool = True) -> None:
        """One dialog at a time; when it closes the window takes the keyboard back. With `load`, its
        `load()` fills it as it opens; the binding and agency desks fill themselves and open with
        `load=False` (the binding desk's `load` looks up the provider typed into it)."""
        self.dialog = dialog
        dialog.finished.connect(lambda _result: self.dialog_closed.emit())
        dialog.open()
        fill = getattr(dialog, "load", None) if load else None
        if fill is not None:
            fill()

    def back_up(self, why: str) -> None:
        """A backup in the background (settings.backups); its line goes to the message bar."""
        backups = self.settings.backups
        if backups is not None:
            self.run(lambda: backups.take(why)).success(self.say).run()
