"""Starting the application: Qt, the CJK font, the database, sign-in, the counter window."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from ..resources import resource_dir
from ..services.actor import Actor
from ..store import Database
from . import ops
from .qt import QApplication, QFont, QFontDatabase, QLibraryInfo, QLocale, QTimer, QTranslator

if TYPE_CHECKING:  # the window is imported while the cashier signs in (run, _warm_window)
    from ..services.centre import CounterCentre
    from .counter import CounterWindow

STARTED = time.perf_counter()  # when the application's code began loading (for --exit-when-ready)


def _process_age() -> float:
    """Seconds since this process started (Linux: from /proc, so the bundle's unpacking counts too)."""
    try:
        import os

        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return uptime - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - STARTED


def application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the shipped CJK font as its default, so every machine shows Chinese."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or sys.argv[:1])
    font_id = QFontDatabase.addApplicationFont(str(resource_dir() / "fonts" / "wqy-microhei.ttc"))
    families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if families:
        app.setFont(QFont(families[0], 10))
    app.setApplicationName("counter_app")
    _chinese_buttons(app)
    return app


def _chinese_buttons(app: QApplication) -> None:
    """Qt's own Chinese (qtbase): standard buttons read 确定/取消, not OK/Cancel. Loaded once; the
    translator is kept on the application so it lives as long as it does."""
    if getattr(app, "_zh_translator", None) is not None:
        return
    translator = QTranslator(app)
    if translator.load(
        QLocale(QLocale.Language.Chinese, QLocale.Country.China),
        "qtbase",
        "_",
        QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath),
    ):
        app.installTranslator(translator)
        app._zh_translator = translator  # type: ignore[attr-defined]


def default_slip_dir() -> Path:
    return Path(platformdirs.user_data_dir("counter_app", appauthor=False)) / "slips"


def open_counter(
    db: Database,
    user: Actor,
    slip_dir: Path,
    printer: str | None = None,
    sync_warn_minutes: int = 30,
    centre: CounterCentre | None = None,
    centre_presettle: bool = False,
    customer_display: bool = False,
    backups: object = None,
    escpos: str = "",
    slip_size: str = "80mm",
) -> CounterWindow:
    """The counter window for the signed-in actor (who carries the institution and counter);
    `centre` is the centre online (sync/inpatient_link.CentreLink), for inpatient settlements."""
    from .counter import CounterSettings, CounterWindow

    window = CounterWindow(
        db,
        user,
        CounterSettings(
            user,
            slip_dir,
            printer,
            sync_warn_minutes=sync_warn_minutes,
            centre=centre,
            centre_presettle=centre_presettle,
            customer_display=customer_display,
            backups=backups,
            escpos=escpos,
            slip_size=slip_size,
        ),
    )
    threading.Thread(target=_warm_printing, name="warm-printing", daemon=True).start()
    return window


def _warm_window() -> None:
    """Import the counter window (half the UI's import time) while the sign-in window waits for the
    password, so the sign-in window shows without paying for it (issue 28, cold start)."""
    from . import counter  # noqa: F401 - imported for its side effect: loaded before it is needed


def _warm_printing() -> None:
    """Load reportlab and register the slip font while the cashier signs in and scans, so the first
    F9 does not pay for them (cold start does not either: nothing here blocks the window)."""
    from ..printing import pdf

    pdf.register_font()


def run(
    db: Database,
    institution: str,
    counter: str,
    slip_dir: Path,
    printer: str | None,
    user: Actor | None = None,
    centre: str | None = None,
    credentials=None,
    sync_warn_minutes: int = 30,
    centre_presettle: bool = False,
    customer_display: bool = False,
    backups: object = None,
    escpos: str = "",
    exit_when_ready: bool = False,
    smoke_visit: tuple[str, str] | None = None,
    slip_size: str = "80mm",
) -> int:
    """Sign in, open the counter, and (with `centre`) sync upstream in the background until closed."""
    app = application()
    if user is None:
        from .signin import SignInDialog

        threading.Thread(target=_warm_window, name="warm-window", daemon=True).start()
        dialog = SignInDialog(db, institution, counter)
        if dialog.exec() != SignInDialog.DialogCode.Accepted or dialog.user is None:
            return 0
        user = dialog.user
    worker = link = None
    if centre:
        from ..sync.client import CentreClient
        from ..sync.inpatient_link import CentreLink
        from ..sync.worker import SyncWorker

        worker = SyncWorker(db, centre, credentials=credentials)
        worker.start()
        link = CentreLink(db, CentreClient(centre, credentials=credentials))
    window = open_counter(
        db,
        user,
        slip_dir,
        printer,
        sync_warn_minutes,
        centre=link,
        centre_presettle=centre_presettle and link is not None,
        customer_display=customer_display,
        backups=backups,
        escpos=escpos,
        slip_size=slip_size,
    )
    window.show()
    if exit_when_ready:  # the smoke test: the window is up and waits for a scan
        started = time.perf_counter()

        def ready() -> None:
            dialog = getattr(window, "dialog", None)
            asking = dialog is not None and dialog.isVisible()  # e.g. asked to open the shift first
            if not window.busy and (window.scan.hasFocus() or asking):
                print(
                    f"scan-ready {_process_age() * 1000:.0f} ms after the process started "
                    f"(window shown {(started - STARTED) * 1000:.0f} ms after the UI loaded)",
                    flush=True,
                )
                app.quit()

        poll = QTimer(window)
        poll.timeout.connect(ready)
        poll.start(10)
    result = {"code": 0}
    if smoke_visit is not None:  # the bundle's check: one visit settled and its slip written
        from .smoke_visit import drive

        def finished(code: int) -> None:
            result["code"] = code
            app.quit()

        drive(app, window, smoke_visit[0], smoke_visit[1], finished)
    code = app.exec() or result["code"]
    ops.shutdown()
    if worker is not None:
        worker.stop()
    return code
