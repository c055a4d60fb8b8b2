"""A visit settled through the real counter window, unattended: `counter-app run --smoke-visit`.

The bundle and the .deb are checked by it (tools/smoke-bundle.sh, tools/test-deb.sh, issue 27): a
patient scanned, one item added, previewed and confirmed through the window's own slots, and the
slip written as a cashier's would be. It prints the settlement number and the slip's path, or what
stopped it, and quits; it waits on the window's state, never on a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .qt import QApplication, QTimer


def drive(app: QApplication, window: Any, certno: str, item: str, done: Callable[[int], None]) -> QTimer:
    """Poll the window (every 20 ms, a step only when it is idle) through scan, item, F5, F9, slip."""
    state = {"step": 0, "errors": 0}

    def fail(why: str) -> None:
        print(f"smoke visit failed: {why}", flush=True)
        done(1)

    def tick() -> None:
        if window.busy:
            return
        if len(window.errors) > state["errors"]:
            fail(window.errors[-1])
            return
        step = state["step"]
        if step == 0:
            window.scan.setText(certno)
            window.on_scan()
        elif step == 1:
            if window.person is None:
                return
            window.claim.search.setText(item)
            window.claim.search.textEdited.emit(item)  # as typing it would
        elif step == 2:
            if window.claim.match_list.count() == 0:
                return
            window.add_current_match()
        elif step == 3:
            if not window.lines:
                return
            window.preview()
        elif step == 4:
            if window.shown is None:
                return
            window.confirm()
        elif step == 5:
            if window.last_slip is None:
                return
            print(f"smoke visit: settled {window.last_setl_no}, slip {window.last_slip}", flush=True)
            done(0)
            return
        state["step"] = step + 1

    poll = QTimer(window)
    poll.timeout.connect(tick)
    poll.start(20)
    return poll
