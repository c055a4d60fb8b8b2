"""Open each screen on demo data and save PNGs to docs/screenshots/ (offscreen; look at them).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from counter_app.services.context import CounterContext  # noqa: E402
from counter_app.services.demo import DEMO_INSTITUTION, create_demo  # noqa: E402
from counter_app.services.staff import authenticate  # noqa: E402
from counter_app.store import Database  # noqa: E402
from counter_app.store.models import Account, FamilyBinding, Person  # noqa: E402
from counter_app.ui.app import application  # noqa: E402
from counter_app.ui.counter_window import CounterSettings, CounterWindow  # noqa: E402
from counter_app.ui.qt import Qt  # noqa: E402
from counter_app.ui.signin import SignInDialog  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


def wait(app, condition, seconds: float = 10) -> None:
    end = time.time() + seconds
    while not condition() and time.time() < end:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()


def employee_with_short_account_and_family(db: Database) -> str:
    """An employee whose own balance is small and who has a bound provider with money."""
    with db.sessions() as s:
        rows = s.execute(
            select(Person.certno, Account.balance)
            .join(Account, Account.person_id == Person.id)
            .join(FamilyBinding, FamilyBinding.beneficiary_id == Person.id)
            .where(Person.insutype == "310", Person.status == "normal", Account.balance < Decimal("30.00"))
            .order_by(Person.id)).all()
    return rows[0][0]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    app = application()
    tmp = Path(tempfile.mkdtemp())
    db = Database(f"sqlite:///{tmp / 'demo.sqlite3'}")
    today = dt.date.today()
    create_demo(db, 600, today=today)

    signin = SignInDialog(db, DEMO_INSTITUTION)
    signin.staff_no.setText("c001")
    signin.show()
    wait(app, lambda: False, 0.2)
    signin.grab().save(str(OUT / "01-sign-in.png"))
    signin.close()

    user = authenticate(db, "c001", "1234")
    window = CounterWindow(db, user, CounterSettings(CounterContext(DEMO_INSTITUTION, "门诊1", "c001"), tmp / "slips"))
    window.show()
    wait(app, lambda: not window.busy)
    window.grab().save(str(OUT / "02-counter-idle.png"))

    window.scan.setText(employee_with_short_account_and_family(db))
    window.on_scan()
    wait(app, lambda: window.person is not None and not window.busy)
    for query, qty in (("AMXL", 2), ("XCG", 1), ("TLCT", 1), ("MRZX", 1)):
        window.search.setText(query)
        window.on_search_text(query)
        wait(app, lambda: window.match_list.count() > 0 and not window.busy)
        window.quantity.setValue(qty)
        window.add_current_match()
    window.preview()
    wait(app, lambda: window.shown is not None and not window.busy)
    window.grab().save(str(OUT / "03-counter-preview-family-mutual-aid.png"))

    window.confirm()
    wait(app, lambda: window.last_slip is not None and not window.busy)
    window.grab().save(str(OUT / "04-counter-settled.png"))

    window.refund()
    wait(app, lambda: bool(window.dialog.summary.text()) and not window.busy)
    window.dialog.reason.setText("患者退药")
    window.dialog.staff_no.setText("s001")
    window.dialog.grab().save(str(OUT / "05-refund-approval.png"))
    window.dialog.reject()

    from counter_app.printing.slip import load_slip
    from counter_app.ui import slip_printer

    preview = slip_printer.preview(load_slip(db, window.last_setl_no), window)
    preview.resize(700, 900)
    preview.show()
    wait(app, lambda: False, 0.5)
    preview.grab().save(str(OUT / "06-slip-print-preview.png"))
    preview.close()
    from counter_app.ui import ops

    window.status_timer.stop()
    ops.shutdown()
    for path in sorted(OUT.glob("*.png")):
        print(path)


if __name__ == "__main__":
    main()
