"""Open each screen on demo data and save PNGs to docs/screenshots/ (offscreen; look at them).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py

Every counter and desk screen is saved at 1366×728 (a 1366×768 desktop minus its taskbar) as
NAME.png and at 1920×1080 as NAME@1920x1080.png. A reference centre runs beside it (the inpatient
discharge needs the centre's answer). Waits run Qt's own event loop, quit from a timer.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from counter_app.services.demo import DEMO_INSTITUTION, create_demo  # noqa: E402
from counter_app.services.staff import sign_in  # noqa: E402
from counter_app.store import Database  # noqa: E402
from counter_app.store.models import Account, FamilyBinding, Person  # noqa: E402
from counter_app.ui.app import application  # noqa: E402
from counter_app.ui.counter import CounterSettings, CounterWindow  # noqa: E402
from counter_app.ui.signin import SignInDialog  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


SIZES = {"": (1366, 728), "@1920x1080": (1920, 1080)}


def wait(app, condition, seconds: float = 10) -> None:
    """Run the event loop until `condition` holds or `seconds` pass (ui/waiting.py)."""
    from counter_app.ui.waiting import wait_until

    wait_until(condition, seconds, every_ms=5)


def shoot(app, widget, name: str) -> None:
    """The widget at each screen size: NAME.png (1366×728) and NAME@1920x1080.png."""
    for suffix, (width, height) in SIZES.items():
        widget.resize(width, height)
        wait(app, lambda: False, 0.15)
        widget.grab().save(str(OUT / f"{name}{suffix}.png"))
    widget.resize(*SIZES[""])


def employee_with_short_account_and_family(db: Database, offset: int = 0) -> str:
    """An employee whose own balance is small and who has a bound provider with money."""
    with db.sessions() as s:
        rows = s.execute(
            select(Person.certno, Account.balance)
            .join(Account, Account.person_id == Person.id)
            .join(FamilyBinding, FamilyBinding.beneficiary_id == Person.id)
            .where(Person.insutype == "310", Person.status == "normal", Account.balance < Decimal("30.00"))
            .order_by(Person.id)
        ).all()
    return rows[offset][0]


def retiree_with_deductible_met(db: Database) -> str:
    from counter_app.store.models import YearTotal

    with db.sessions() as s:  # the retiree furthest through this year's deductible
        return s.execute(
            select(Person.certno)
            .join(YearTotal, YearTotal.person_id == Person.id)
            .where(Person.psn_type == "retired", Person.status == "normal")
            .order_by(YearTotal.deductible_paid.desc(), Person.id)
        ).first()[0]


def provider_with_relatives(db: Database) -> str:
    with db.sessions() as s:
        return s.execute(
            select(Person.certno)
            .join(FamilyBinding, FamilyBinding.provider_id == Person.id)
            .group_by(Person.id, Person.certno)
            .order_by(Person.id.desc())
        ).first()[0]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    app = application()
    tmp = Path(tempfile.mkdtemp())
    db = Database(f"sqlite:///{tmp / 'demo.sqlite3'}")
    today = dt.date.today()
    create_demo(db, 2000, today=today, history_months=6)  # history: the agency desk has months to show

    signin = SignInDialog(db, DEMO_INSTITUTION, "门诊1")
    signin.staff_no.setText("c001")
    signin.show()
    wait(app, lambda: False, 0.2)
    signin.grab().save(str(OUT / "01-sign-in.png"))
    signin.close()

    user = sign_in(db, "c001", "1234", DEMO_INSTITUTION, "门诊1")
    window = CounterWindow(db, user, CounterSettings(user, tmp / "slips"))
    window.show()
    wait(app, lambda: not window.busy and getattr(window, "dialog", None) is not None)
    window.dialog.opening_float.setText("500.00")
    window.dialog.grab().save(str(OUT / "01b-open-shift.png"))
    window.dialog.accept()
    wait(app, lambda: not window.busy and window.shift is not None)
    shoot(app, window, "02-counter-idle")

    window.scan.setText(employee_with_short_account_and_family(db))
    window.on_scan()
    wait(app, lambda: window.person is not None and not window.busy)
    for query, qty in (("AMXL", 2), ("XCG", 1), ("TLCT", 1), ("MRZX", 1)):
        window.claim.search.setText(query)
        window.on_search_text(query)
        wait(app, lambda: window.claim.match_list.count() > 0 and not window.busy)
        window.claim.quantity.setValue(qty)
        window.add_current_match()
    window.preview()
    wait(app, lambda: window.shown is not None and not window.busy)
    due = window.preview_panel.due  # a round note or two, as patients hand over
    window.preview_panel.tendered.setText(f"{(int(due) // 50 + 1) * 50}.00")
    shoot(app, window, "03-counter-preview-family-mutual-aid")

    window.confirm()
    wait(app, lambda: window.last_slip is not None and not window.busy)
    shoot(app, window, "04-counter-settled")

    window.refund()
    wait(app, lambda: bool(window.dialog.summary.text()) and not window.busy)
    window.dialog.reason.setText("患者退药")
    window.dialog.staff_no.setText("s001")
    window.dialog.grab().save(str(OUT / "05-refund-approval.png"))
    window.dialog.reject()

    window.close_shift()
    wait(app, lambda: bool(window.dialog.expected.text()) and not window.busy)
    window.dialog.counted.setText(window.dialog.expected.text())
    window.dialog.grab().save(str(OUT / "07-close-shift.png"))
    window.dialog.reject()

    from counter_app.registry_file import dump
    from counter_app.services.registry_export import export
    from counter_app.services.shift import open_shift
    from counter_app.sync.client import CentreClient
    from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
    from counter_app.sync.inpatient_link import CentreLink

    dump(export(db), tmp / "registry.json")  # the training centre's registry, from the demo's people
    centre = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "counter_app",
            "centre",
            "--port",
            "0",
            "--centre-db",
            str(tmp / "centre.sqlite3"),
            "--registry",
            str(tmp / "registry.json"),
            "--demo",
            f"sqlite:///{tmp / 'demo.sqlite3'}",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    centre_url = centre.stdout.readline().split()[3]
    link = CentreLink(
        db, CentreClient(centre_url, credentials=Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN))
    )
    other = {}
    for staff_no, counter, institution in (
        ("p001", "药房1", "P34020200003"),
        ("z001", "住院处1", DEMO_INSTITUTION),
        ("s001", "主管", DEMO_INSTITUTION),
    ):
        user = sign_in(db, staff_no, "1234", institution, counter)
        open_shift(db, user, Decimal("500.00"))
        other[staff_no] = CounterWindow(db, user, CounterSettings(user, tmp / "slips", centre=link))
        other[staff_no].show()
        wait(app, lambda w=other[staff_no]: not w.busy and w.shift is not None)

    def fill(win, certno: str, items) -> None:
        win.scan.setText(certno)
        win.on_scan()
        wait(app, lambda: win.person is not None and not win.busy)
        for query, qty in items:
            win.claim.search.setText(query)
            win.on_search_text(query)
            wait(app, lambda: win.claim.match_list.count() > 0 and not win.busy)
            win.claim.quantity.setValue(qty)
            win.add_current_match()
            wait(app, lambda: not win.busy)

    pharmacy = other["p001"]
    fill(pharmacy, retiree_with_deductible_met(db), (("ALDP", 3), ("XTSZ", 1)))
    pharmacy.claim.prescribing.setCurrentIndex(2)
    pharmacy.preview()
    wait(app, lambda: pharmacy.shown is not None and not pharmacy.busy)
    shoot(app, pharmacy, "08-pharmacy-outside-prescription")

    ward = other["z001"]
    patient = employee_with_short_account_and_family(db, offset=1)
    ward.scan.setText(patient)
    ward.on_scan()
    wait(app, lambda: ward.person is not None and not ward.busy)
    wait(app, lambda: "不在院" in ward.message.text())
    ward.admit()
    ward.dialog.deposit.setText("3000.00")
    ward.dialog.accept()
    wait(app, lambda: ward.stay is not None and not ward.busy)
    for query, qty in (("JMSY", 6), ("TLCT", 1), ("AMXL", 4), ("XCG", 2)):
        ward.claim.search.setText(query)
        ward.on_search_text(query)
        wait(app, lambda: ward.claim.match_list.count() > 0 and not ward.busy)
        ward.claim.quantity.setValue(qty)
        ward.add_current_match()
        wait(app, lambda: not ward.busy)
    ward.preview()
    wait(app, lambda: ward.shown is not None and not ward.busy, 30)
    shoot(app, ward, "09-inpatient-discharge-preview")

    boss = other["s001"]
    boss.binding_desk()
    desk = boss.dialog
    desk.provider.setText(provider_with_relatives(db))
    desk.load()
    wait(app, lambda: desk.desk is not None and not boss.busy)
    desk.grab().save(str(OUT / "10-binding-desk.png"))
    desk.close()

    boss.agency_desk()
    agency = boss.dialog
    agency.resize(*SIZES[""])
    wait(app, lambda: agency.busy.text() == "")
    agency.tabs.setCurrentIndex(3)
    agency.run_monitoring()
    wait(app, lambda: agency.monitor_result.text() != "" and agency.busy.text() == "", 60)
    shoot(app, agency, "11-agency-monitoring")
    from counter_app.batch.monitoring import monitor_month
    from counter_app.printing.charts import visits_chart

    (OUT / "monitoring-chart.png").write_bytes(visits_chart(monitor_month(db, boss.user, agency.last_month)))
    agency.tabs.setCurrentIndex(0)
    agency.run_crediting()
    wait(app, lambda: agency.credit_result.text() != "" and agency.busy.text() == "", 60)
    shoot(app, agency, "12-agency-crediting")
    agency.tabs.setCurrentIndex(2)
    agency.run_declaration()
    wait(app, lambda: agency.decl_result.text() != "" and agency.busy.text() == "", 60)
    shoot(app, agency, "13-agency-declaration")
    agency.close()

    from counter_app.printing.slip import load_slip
    from counter_app.ui import slip_printer

    preview = slip_printer.preview(load_slip(db, window.last_setl_no), window)
    preview.resize(700, 900)
    preview.show()
    wait(app, lambda: False, 0.5)
    preview.grab().save(str(OUT / "06-slip-print-preview.png"))
    preview.close()
    from counter_app.ui import ops

    for w in (window, *other.values()):
        w.status_timer.stop()
    ops.shutdown()
    centre.terminate()
    centre.wait(30)
    for path in sorted(OUT.glob("*.png")):
        print(path)
    sys.stdout.flush()
    os._exit(0)  # PySide6 6.12 may abort in its own finalization; the files are written


if __name__ == "__main__":
    try:
        main()
    except BaseException:  # noqa: BLE001 - say what broke; Qt's finalization must not hang the tool
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
