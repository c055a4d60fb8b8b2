"""A real patient at the window (issue 23), against a real reference centre: someone the counter has
never seen is found through 1101 and settled; later, with the centre away, the same patient settles
from the cache with its age on screen; an e-voucher offline is refused with the reason; a patient
insured in another city settles only through the centre."""

from __future__ import annotations

import os
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from counter_app.store.models import LedgerEntry, Settlement
from counter_app.sync.client import CentreClient
from counter_app.sync.inpatient_link import CentreLink
from counter_app.ui.qt import Qt
from tests.centre_process import CentreProcess
from tests.sync.test_real_answers import FAR, STRANGER, TRAINING, registry_with_strangers

from .test_counter_window import add_item, idle, press, scan
from .test_national_day import open_counter, world  # noqa: F401 - the fixture

D = Decimal


def settle_shown(qtbot, win) -> str:
    press(qtbot, win, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: win.shown is not None or bool(win.errors), timeout=30_000)
    assert win.shown is not None, win.errors
    before = win.last_setl_no
    press(qtbot, win, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: win.last_setl_no != before or bool(win.errors), timeout=30_000)
    assert win.last_setl_no != before, win.errors
    return win.last_setl_no


def test_a_real_patient_online_then_offline_and_one_insured_elsewhere(qtbot, world, tmp_path):  # noqa: F811
    centre = CentreProcess(tmp_path, registry_file=registry_with_strangers(world, tmp_path)).start()
    try:
        online = CentreLink(world.db, CentreClient(centre.url, credentials=TRAINING, timeout=2, deadline=5))
        win = open_counter(qtbot, world, tmp_path, "c001", centre=online)
        scan(qtbot, win, STRANGER)  # never seen by this counter: found through 1101
        qtbot.waitUntil(lambda: win.person is not None, timeout=10_000)
        assert win.person.name == "赵新" and win.person.online
        assert win.person_panel.fields["source"].text() == "医保中心实时信息（1101）"
        add_item(qtbot, win, "A001")
        first = settle_shown(qtbot, win)
        token = centre.evoucher("C0900")
        # the centre goes away
        away = CentreLink(
            world.db, CentreClient("http://127.0.0.1:9", credentials=TRAINING, timeout=1, deadline=2)
        )
        win.desk.settings = replace(win.settings, centre=away)
        press(qtbot, win, Qt.Key.Key_Escape)
        scan(qtbot, win, STRANGER)
        qtbot.waitUntil(lambda: win.person is not None, timeout=10_000)
        assert not win.person.online and "离线" in win.person_panel.fields["source"].text()
        assert "前）" in win.person_panel.fields["source"].text()  # how old the cached information is
        add_item(qtbot, win, "A001")
        second = settle_shown(qtbot, win)
        press(qtbot, win, Qt.Key.Key_Escape)
        scan(qtbot, win, token)  # an e-voucher cannot be resolved offline
        qtbot.waitUntil(lambda: any("电子凭证" in e for e in win.errors), timeout=10_000)
        assert any("请改用身份证或社保卡" in e for e in win.errors)
        assert win.person is None
        # back online: a patient insured in Hefei, at a Wuhu hospital
        win.desk.settings = replace(win.settings, centre=online)
        scan(qtbot, win, FAR)
        qtbot.waitUntil(lambda: win.person is not None, timeout=10_000)
        assert win.person.out_of_area and "异地" in win.person_panel.fields["place"].text()
        add_item(qtbot, win, "A001")
        far = settle_shown(qtbot, win)
        qtbot.waitUntil(lambda: win.last_slip is not None and far in win.last_slip.name, timeout=20_000)
        assert not [e for e in win.errors if "未能打印" in e], win.errors  # the slip printed
        shot = (
            Path(os.environ.get("COUNTER_APP_SHOT_DIR", tmp_path))
            / "10-out-of-area-settled-by-the-centre.png"
        )
        assert win.grab().save(str(shot))
        idle(qtbot, win)
    finally:
        centre.stop()
    with world.db.sessions() as s:
        rows = {r.setl_no: r for r in s.scalars(select(Settlement))}
        assert rows[first].policy == rows[second].policy == "wuhu-2022"  # a local patient: the local pack
        assert rows[far].policy == "elsewhere-340104"  # priced by the centre alone
        assert s.scalar(select(LedgerEntry.id).where(LedgerEntry.settlement_id == rows[far].id)) is None
    assert first != second != far and win.last_slip is not None and win.last_slip.exists()
