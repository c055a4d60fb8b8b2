"""A day at the counters, driven through the real windows, against a real reference centre:
outpatient settled offline, then sent when the centre is up (each visit's 2201 → 2203 → 2204 →
2207 in order, once each, then reconciled); and a whole inpatient stay: admission, fees over two
days with one corrected, an interim settlement, discharge with the centre's fund payment, family
accounts and the deposit, and a cancel with a supervisor's approval."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from counter_app.services.shift import open_shift
from counter_app.services.staff import sign_in
from counter_app.services.sync_status import sync_status
from counter_app.store.models import Account, CentreResult, DepositEntry, Outbox, Person, Settlement
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from counter_app.sync.inpatient_link import CentreLink
from counter_app.sync.reconcile import reconcile_day
from counter_app.sync.worker import SyncWorker
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import Qt
from tests.actors import add_staff
from tests.centre_process import CentreProcess
from tests.services.world import HOSPITAL, TODAY, build

from .test_counter_window import add_item, idle, press, scan

D = Decimal
TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
DAY2 = TODAY + dt.timedelta(days=1)


@pytest.fixture
def world(sqlite_url):
    w = build(sqlite_url, mother_balance="5000.00")
    for staff_no, name, role, password in (
        ("c001", "张晓燕", "outpatient_cashier", "1234"),
        ("z001", "刘洋", "inpatient_cashier", "1234"),
        ("s001", "王建华", "supervisor", "5678"),
    ):
        add_staff(w.db, staff_no, name, role, password)
    return w


def open_counter(
    qtbot,
    world,
    tmp_path: Path,
    staff_no: str,
    centre: object = None,
    today: dt.date | None = TODAY,
    password: str = "1234",
) -> CounterWindow:
    application()
    user = sign_in(world.db, staff_no, password, HOSPITAL, f"窗口-{staff_no}")
    open_shift(world.db, user, D("100.00"))
    win = CounterWindow(world.db, user, CounterSettings(user, tmp_path / "slips", today=today, centre=centre))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    return win


def settle(qtbot, win: CounterWindow, certno: str, code: str = "A001") -> str:
    scan(qtbot, win, certno)
    add_item(qtbot, win, code)
    press(qtbot, win, Qt.Key.Key_F5)
    before = win.last_setl_no
    press(qtbot, win, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: win.last_setl_no != before and win.last_slip is not None, timeout=10_000)
    return win.last_setl_no


def approve(qtbot, win: CounterWindow, reason: str, staff_no: str = "s001", password: str = "5678") -> None:
    dialog = win.dialog
    qtbot.waitUntil(lambda: "医疗费" in dialog.summary.text(), timeout=10_000)
    dialog.reason.setText(reason)  # typed through an input method; QTest types ASCII only
    qtbot.keyClicks(dialog.staff_no, staff_no)
    qtbot.keyClicks(dialog.password, password)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    idle(qtbot, win)


def test_an_outpatient_day_offline_then_online_arrives_in_order_once_each_and_reconciles(
    qtbot, world, tmp_path
):
    win = open_counter(qtbot, world, tmp_path, "c001", today=None)  # a real day: it is reconciled by its date
    made = [settle(qtbot, win, world.certnos[who]) for who in ("child", "retiree", "mother")]
    press(qtbot, win, Qt.Key.Key_F11)  # the retiree's is refunded, still offline
    win.dialog.setl_no.setText(made[1])
    approve(qtbot, win, "患者退药")
    qtbot.waitUntil(lambda: "退费成功" in win.message.text(), timeout=10_000)
    assert sync_status(world.db).pending == 4  # three settlements and a refund wait for the centre
    centre = CentreProcess(tmp_path, registry=world.db.url.render_as_string(hide_password=False)).start()
    worker = SyncWorker(world.db, centre.url, credentials=TRAINING, idle_seconds=0.2)  # what the app runs
    worker.start()
    try:
        qtbot.waitUntil(lambda: sync_status(world.db).pending == 0, timeout=120_000)
        worker.stop()
        requests = centre.requests()
        stats = centre.stats()
        report = reconcile_day(
            world.db, CentreClient(centre.url, credentials=TRAINING), HOSPITAL, dt.date.today()
        )
    finally:
        worker.stop()
        centre.stop()
    assert stats["duplicates"] == 0 and stats["refused"] == 0
    order = [r["msgid"] for r in requests]
    assert len(order) == len(set(order)) == 14  # the 9001, 4 per visit and the 2208, each once
    with world.db.sessions() as s:
        for setl_no in made:
            visit = s.execute(
                select(Outbox.msgid, Outbox.infno)
                .join(Settlement, Settlement.id == Outbox.settlement_id)
                .where(Settlement.setl_no == setl_no)
                .order_by(Outbox.id)
            ).all()
            assert [infno for _, infno in visit] == ["2201", "2203", "2204", "2207"]
            positions = [order.index(msgid) for msgid, _ in visit]
            assert positions == sorted(positions)  # arrived in the platform's order
        cancel = s.scalar(select(Outbox.msgid).where(Outbox.infno == "2208"))
        settled_retiree = s.scalar(
            select(Outbox.msgid)
            .join(Settlement, Settlement.id == Outbox.settlement_id)
            .where(Settlement.setl_no == made[1], Outbox.infno == "2207")
        )
        assert order.index(cancel) > order.index(settled_retiree)  # the refund never overtakes
        assert [(r.equal, r.differences) for r in s.scalars(select(CentreResult))] == [
            (True, "{}")
        ] * 3  # agrees
    assert report.ties, report
    win.refresh_status()
    qtbot.waitUntil(lambda: win.status_sync.text().startswith("上传：待传 0 / 挂起 0"), timeout=10_000)


@pytest.mark.slow
def test_a_whole_inpatient_stay_with_the_centre(qtbot, world, tmp_path):
    centre = CentreProcess(tmp_path, registry=world.db.url.render_as_string(hide_password=False)).start()
    link = CentreLink(world.db, CentreClient(centre.url, credentials=TRAINING))
    try:
        win = open_counter(qtbot, world, tmp_path, "z001", centre=link)
        scan(qtbot, win, world.certnos["child"])  # a resident child: the family accounts pay (HF-4)
        qtbot.waitUntil(lambda: "不在院" in win.message.text(), timeout=10_000)
        press(qtbot, win, Qt.Key.Key_F4)
        win.dialog.deposit.setText("2000.00")
        qtbot.keyClick(win.dialog.deposit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: win.stay is not None, timeout=10_000)
        assert (
            win.claim.search.hasFocus()
        )  # after F4 the fee codes go to 项目, not to the scan field (issue 27)
        assert not win.person_panel.fields["pooled"].isVisible()  # no outpatient year totals here
        add_item(qtbot, win, "A001", quantity="10")  # day 1: 1000.00
        qtbot.waitUntil(lambda: win.stay.fees_total == D("1000.00"), timeout=10_000)
        # an interim settlement of day 1 (mid_setl_flag 1): the stay goes on
        win.claim.interim.setChecked(True)
        press(qtbot, win, Qt.Key.Key_F5)
        qtbot.waitUntil(lambda: win.discharge is not None, timeout=30_000)
        assert win.preview_panel.values["fund"].text() == "80.00"  # (1000 - 900) x 0.80, training values
        press(qtbot, win, Qt.Key.Key_F9)
        qtbot.waitUntil(lambda: "中途结算成功" in win.message.text(), timeout=30_000)
        interim_no = win.last_setl_no
        win.claim.interim.setChecked(False)
        # day 2: more fees, one corrected (Delete posts a correcting line; the centre gets 2302)
        win.desk.settings = replace(win.settings, today=DAY2)
        scan(qtbot, win, world.certnos["child"])
        qtbot.waitUntil(lambda: win.stay is not None and win.stay.fees_total == 0, timeout=10_000)
        add_item(qtbot, win, "A001", quantity="5")
        qtbot.waitUntil(lambda: win.stay.fees_total == D("500.00"), timeout=10_000)
        add_item(qtbot, win, "C001")  # 80.00 no account may pay: the deposit covers it
        qtbot.waitUntil(lambda: win.stay.fees_total == D("580.00"), timeout=10_000)
        win.claim.table.selectRow(0)
        press(qtbot, win, Qt.Key.Key_Delete)
        qtbot.waitUntil(lambda: win.stay.fees_total == D("80.00"), timeout=10_000)
        add_item(qtbot, win, "A001", quantity="4")
        qtbot.waitUntil(lambda: win.stay.fees_total == D("480.00"), timeout=10_000)
        before = balances(world)
        press(qtbot, win, Qt.Key.Key_F5)  # discharge: 2402, 2303; the centre's fund, then the accounts
        qtbot.waitUntil(lambda: win.discharge is not None or bool(win.errors), timeout=30_000)
        assert win.discharge is not None, win.errors
        panel = win.preview_panel
        assert panel.values["fund"].text() == "320.00"  # 400 x 0.80: the deductible was met at the interim
        assert panel.values["mulaid"].text() == "80.00"
        # the big figure is what the drawer does (issue 27): the deposit paid back, not a cash part
        assert (panel.cash_title.text(), panel.cash.text()) == ("出院应退还", "1920.00")
        assert "医保中心：统筹基金支付 320.00" in panel.notice.text()
        assert "出院应退还 1920.00" in panel.notice.text()  # 2000 - 80 applied to the cash part
        assert [win.claim.table.item(r, 6).text() for r in range(win.claim.table.rowCount())] == [
            "全部符合范围",
            "全自费 80.00",
        ]
        shot = tmp_path / "inpatient-discharge-preview.png"  # docs/screenshots/ keeps a copy of one run's
        assert win.grab().save(str(shot)) and shot.stat().st_size > 10_000
        press(qtbot, win, Qt.Key.Key_F9)
        qtbot.waitUntil(lambda: "出院结算成功" in win.message.text(), timeout=30_000)
        discharge_no = win.last_setl_no
        assert "退还 1920.00" in win.message.text()
        with world.db.sessions() as s:
            assert not s.get(Person, world.child).hospitalized
            kinds = [k for (k,) in s.execute(select(DepositEntry.kind).order_by(DepositEntry.id))]
            assert kinds == ["taken", "applied", "refunded"]
            assert s.scalars(select(CentreResult.equal)).all() == [True, True]
        # the discharge settlement is cancelled (2305, 2405) with a supervisor's approval
        press(qtbot, win, Qt.Key.Key_F11)
        assert win.dialog.setl_no.text() == discharge_no
        approve(qtbot, win, "费用有误")
        qtbot.waitUntil(lambda: "撤销住院结算成功" in win.message.text() or bool(win.errors), timeout=30_000)
        assert "撤销住院结算成功" in win.message.text(), win.errors
        assert balances(world) == before  # the mother's account exactly as before the discharge
        with world.db.sessions() as s:
            assert s.get(Person, world.child).hospitalized  # in hospital again, the deposit back
            assert sum(s.scalars(select(DepositEntry.amount)), D(0)) == D("2000.00")
        stats = centre.stats()
        assert stats["records"] == {"settle:settled": 1, "settle:cancelled": 1, "cancel:settled": 1}
        assert {"2401", "2301", "2302", "2402", "2303", "2304", "2305", "2405"} <= set(stats["by_infno"])
        assert interim_no != discharge_no
    finally:
        centre.stop()


def balances(world) -> dict[int, D]:
    with world.db.sessions() as s:
        return dict(s.execute(select(Account.person_id, Account.balance)).all())


def test_f5_may_ask_the_centre_and_shows_a_difference_before_the_patient_confirms(qtbot, world, tmp_path):
    from tests.sync.test_platform_fields import _other_pack

    centre = CentreProcess(
        tmp_path, registry=world.db.url.render_as_string(hide_password=False), policies=_other_pack(tmp_path)
    ).start()  # a centre on a newer policy
    try:
        link = CentreLink(world.db, CentreClient(centre.url, credentials=TRAINING))
        win = open_counter(qtbot, world, tmp_path, "c001", centre=link)
        win.desk.settings = replace(win.settings, centre_presettle=True)
        scan(qtbot, win, world.certnos["retiree"])  # level 3, retired, deductible met: 55 % here, 50 % there
        add_item(qtbot, win, "A001")
        press(qtbot, win, Qt.Key.Key_F5)
        qtbot.waitUntil(
            lambda: "医保中心预结算" in win.preview_panel.notice.text() + win.message.text(), timeout=30_000
        )
        assert (
            "医保中心预结算与本地不同：统筹基金 本地 55.00 中心 50.00" in win.preview_panel.notice.text()
        ), win.message.text()
        assert win.preview_panel.values["fund"].text() == "55.00"  # the counter's own split stands
        stats = centre.stats()
        assert stats["by_infno"] == {
            "9001": 1,
            "1101": 1,
            "2201": 1,
            "2203": 1,
            "2204": 1,
            "2206": 1,
            "2205": 1,
            "2202": 1,
        }  # signed in, asked who the patient is, then the probe
        assert stats["records"] == {}  # nothing settled at the centre; the probe visit is abandoned
        press(qtbot, win, Qt.Key.Key_Escape)
        scan(qtbot, win, world.certnos["child"])  # a resident: no pooling either side, they agree
        add_item(qtbot, win, "A001")
        press(qtbot, win, Qt.Key.Key_F5)
        qtbot.waitUntil(lambda: "医保中心预结算与本地一致" in win.message.text(), timeout=30_000)
    finally:
        centre.stop()


def test_a_supervisor_sees_a_settlement_the_centre_computed_otherwise_and_marks_it_reviewed(
    qtbot, world, tmp_path
):
    from counter_app.services.sync_status import centre_differences
    from counter_app.sync.outbox import RetryPolicy, drain
    from tests.sync.test_platform_fields import _other_pack

    cashier = open_counter(qtbot, world, tmp_path, "c001")
    setl_no = settle(qtbot, cashier, world.certnos["retiree"])
    centre = CentreProcess(
        tmp_path, registry=world.db.url.render_as_string(hide_password=False), policies=_other_pack(tmp_path)
    ).start()
    try:
        drain(world.db, CentreClient(centre.url, credentials=TRAINING), policy=RetryPolicy(0, 0))
    finally:
        centre.stop()
    cashier.refresh_status()
    qtbot.waitUntil(lambda: "中心结算不一致 1" in cashier.status_sync.text(), timeout=10_000)
    boss = open_counter(qtbot, world, tmp_path, "s001", password="5678")
    press(qtbot, boss, Qt.Key.Key_F12)
    dialog = boss.dialog
    qtbot.waitUntil(lambda: dialog.differences.rowCount() == 1, timeout=10_000)
    assert dialog.differences.item(0, 0).text() == setl_no
    assert "统筹基金 55.00 → 50.00" in dialog.differences.item(0, 3).text()
    dialog.differences.selectRow(0)
    dialog.reason.setText("中心已调整政策，已与财务核对")
    dialog.review_button.click()
    qtbot.waitUntil(lambda: dialog.differences.rowCount() == 0, timeout=10_000)
    assert centre_differences(world.db, boss.user) == []
