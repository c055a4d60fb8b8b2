"""The customer display on a second screen: two virtual screens (Qt's offscreen platform, configured
in a process of its own), the counter on one, the patient's amounts on the other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_a_second_screen_shows_the_patient_the_amount_due_tendered_and_change(tmp_path):
    screens = tmp_path / "screens.json"
    screens.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "counter",
                        "x": 0,
                        "y": 0,
                        "width": 1366,
                        "height": 768,
                        "logicalDpi": 96,
                        "logicalBpp": 32,
                    },
                    {
                        "name": "patient",
                        "x": 1366,
                        "y": 0,
                        "width": 1024,
                        "height": 600,
                        "logicalDpi": 96,
                        "logicalBpp": 32,
                    },
                ]
            }
        )
    )
    env = dict(os.environ, QT_QPA_PLATFORM=f"offscreen:configfile={screens}")
    run = subprocess.run(
        [sys.executable, str(HERE / "customer_display_run.py"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, run.stderr[-3000:]
    seen = json.loads(lines[-1])
    assert len(seen["screens"]) == 2
    assert seen["display_geometry"] is not None and seen["display_screen"] != seen["window_screen"]
    assert seen["display_geometry"] == seen["display_screen"]  # it fills the patient's screen
    assert seen["due"]["cash"] == "80.00" and seen["due"]["heading"] == "请核对以下金额"
    assert (seen["tendered"]["tendered"], seen["tendered"]["change"]) == ("100.00", "20.00")
    assert seen["settled"] == "已结算，谢谢"


def test_with_one_screen_there_is_no_customer_display(qtbot, tmp_path):
    from decimal import Decimal

    from counter_app.services.shift import open_shift
    from counter_app.services.staff import sign_in
    from counter_app.ui.app import application
    from counter_app.ui.counter import CounterSettings, CounterWindow
    from tests.actors import add_staff
    from tests.services.world import HOSPITAL, TODAY, build

    application()
    world = build(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    add_staff(world.db, "c001", "张晓燕", "outpatient_cashier", "1234")
    user = sign_in(world.db, "c001", "1234", HOSPITAL, "窗口")
    open_shift(world.db, user, Decimal("0.00"))
    win = CounterWindow(world.db, user, CounterSettings(user, tmp_path, today=TODAY, customer_display=True))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.customer is None
