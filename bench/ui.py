"""Counter window timings: cold start to scan-ready, and scan to preview shown.

    python bench/ui.py [--runs 5]

Cold start runs in a fresh process each time: import, QApplication with the CJK font, database
open (migrations checked), window built and shown, first idle. Scan to preview: a scan of an ID
number, two items added, F5, until the cash to collect is on screen; the database holds demo data.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = r'''
import os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from pathlib import Path
from counter_app.store import Database
from counter_app.services.staff import sign_in
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
app = application()
db = Database({url!r})
user = sign_in(db, "c001", "1234", "H34020200001", "门诊1")
w = CounterWindow(db, user, CounterSettings(user, Path({slips!r})))
w.show()
while w.busy or not w.scan.hasFocus():
    app.processEvents()
print(time.perf_counter() - t0)
'''


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import select

    from counter_app.services.demo import create_demo
    from counter_app.store import Database
    from counter_app.store.models import FamilyBinding, Person

    tmp = Path(tempfile.mkdtemp())
    url = f"sqlite:///{tmp / 'bench.sqlite3'}"
    db = Database(url)
    create_demo(db, 2000)
    starts = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url, slips=str(tmp / "slips"))],
                             capture_output=True, text=True, check=True, env=dict(os.environ))
        starts.append(float(out.stdout.strip().splitlines()[-1]))

    from counter_app.services.staff import sign_in
    from counter_app.ui.app import application
    from counter_app.ui.counter import CounterSettings, CounterWindow

    app = application()
    user = sign_in(db, "c001", "1234", "H34020200001", "门诊1")
    window = CounterWindow(db, user, CounterSettings(user, tmp / "slips"))
    window.show()
    with db.sessions() as s:
        ids = [s.get(Person, b.beneficiary_id).certno for b in s.scalars(select(FamilyBinding).limit(runs * 4))]

    def idle(condition=lambda: True) -> None:
        while window.busy or not condition():
            app.processEvents()

    idle()
    window.search.setText("AMXL")
    window.on_search_text("AMXL")
    idle(lambda: window.match_list.count() > 0)
    entry = window.matches[0]
    to_preview = []
    for certno in ids:
        window.reset()
        start = time.perf_counter()
        window.scan.setText(certno)
        window.on_scan()
        idle(lambda: window.person is not None)
        window.matches = [entry]
        window.match_list.addItem(entry.name)
        window.match_list.setCurrentRow(0)
        window.add_current_match()
        window.preview()
        idle(lambda: window.preview_panel.cash.text() != "")
        to_preview.append(time.perf_counter() - start)
    from counter_app.ui import ops

    window.status_timer.stop()
    ops.shutdown()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, Qt offscreen, SQLite demo (2,000 persons)")
    print(f"cold start to scan-ready: median {statistics.median(starts) * 1000:.0f} ms, max {max(starts) * 1000:.0f} ms "
          f"(n={len(starts)}; aim <= 1500 ms)")
    print(f"scan to preview shown:    median {statistics.median(to_preview) * 1000:.1f} ms, "
          f"max {max(to_preview) * 1000:.1f} ms (n={len(to_preview)}; aim <= 100 ms)")


if __name__ == "__main__":
    main()
