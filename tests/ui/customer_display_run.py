"""Run by test_customer_display.py in its own process, whose offscreen platform has two screens:
open a counter with the customer display on, settle with cash tendered, print what the patient's
screen showed at each step as JSON."""

from __future__ import annotations

import json
import os
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from counter_app.services.shift import open_shift
from counter_app.services.staff import sign_in
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.waiting import wait_until
from tests.actors import add_staff
from tests.services.world import HOSPITAL, TODAY, build


def wait(condition) -> None:
    wait_until(condition)


def main() -> None:
    folder = Path(sys.argv[1])
    app = application()
    world = build(f"sqlite:///{folder / 'counter.sqlite3'}")
    add_staff(world.db, "c001", "张晓燕", "outpatient_cashier", "1234")
    user = sign_in(world.db, "c001", "1234", HOSPITAL, "窗口-c001")
    open_shift(world.db, user, Decimal("100.00"))
    win = CounterWindow(
        world.db, user, CounterSettings(user, folder / "slips", today=TODAY, customer_display=True)
    )
    win.show()
    wait(lambda: not win.busy)
    out = {
        "screens": [s.geometry().getRect() for s in app.screens()],
        "window_screen": win.screen().geometry().getRect(),
    }
    shown = win.customer
    out["display_geometry"] = shown.geometry().getRect() if shown else None
    out["display_screen"] = shown.screen().geometry().getRect() if shown else None
    win.scan.setText(world.certnos["stranger"])
    win.on_scan()
    wait(lambda: win.person is not None and not win.busy)
    win.claim.search.setText("C001")
    win.on_search_text("C001")
    wait(lambda: win.claim.match_list.count() > 0 and not win.busy)
    win.add_current_match()
    win.preview()
    wait(lambda: win.shown is not None and not win.busy)
    out["due"] = {k: v.text() for k, v in shown.values.items()} | {"heading": shown.heading.text()}
    win.preview_panel.tendered.setText("100.00")
    out["tendered"] = {k: v.text() for k, v in shown.values.items()}
    win.confirm()
    wait(lambda: win.preview_panel.status.text() != "" and not win.busy)
    out["settled"] = shown.heading.text()
    win.status_timer.stop()
    from counter_app.ui import ops

    ops.shutdown()
    print(json.dumps(out, ensure_ascii=False))
    sys.stdout.flush()
    os._exit(0)  # PySide6 6.12 may abort in its own finalization; the answer is out


if __name__ == "__main__":
    main()
