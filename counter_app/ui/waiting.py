"""Waiting on a condition in Qt's own event loop, quit from a timer: for tools, benches and tests
that drive windows outside pytest-qt. Never a loop calling processEvents() or qWait() by the
thousand: PySide6 6.12 trips a reference-count bug there ("Fatal Python error: none_dealloc")."""

from __future__ import annotations

from collections.abc import Callable

from .qt import QtCore


def wait_until(condition: Callable[[], bool], seconds: float = 20.0, every_ms: int = 2) -> bool:
    """Run the event loop until `condition()` holds or `seconds` pass; says whether it held."""
    if condition():
        return True
    loop, timer = QtCore.QEventLoop(), QtCore.QTimer()
    timer.setInterval(every_ms)
    timer.timeout.connect(lambda: loop.quit() if condition() else None)
    timer.start()
    QtCore.QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    return condition()
