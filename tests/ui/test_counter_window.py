"""The counter window driven with the keyboard, as a cashier works: real widgets, real database."""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from counter_app.services import go_live as gl
from counter_app.services import price_list
from counter_app.services import settlement as svc
from counter_app.services.staff import sign_in
from counter_app.store.models import AuditEntry, FamilyBinding, LedgerEntry, Outbox, Settlement, SlipPrint
from counter_app.ui.app import application
from counter_app.ui.counter import CounterSettings, CounterWindow
from counter_app.ui.qt import Qt
from tests.actors import add_staff
from tests.services.world import HOSPITAL, TODAY, build

D = Decimal


@pytest.fixture
def world(sqlite_url):
    w = build(sqlite_url)
    add_staff(w.db, "c001", "张晓燕", "outpatient_cashier", "1234")
    add_staff(w.db, "s001", "王建华", "supervisor", "5678")
    add_staff(w.db, "p001", "陈静", "pharmacy_clerk", "1234")
    return w


@pytest.fixture
def window(qtbot, world, tmp_path) -> CounterWindow:
    return open_window(qtbot, world, tmp_path, "c001", "1234")


def open_window(
    qtbot, world, tmp_path: Path, staff_no: str, password: str, *, shift: bool = True
) -> CounterWindow:
    from counter_app.services.shift import open_shift

    application()
    user = sign_in(world.db, staff_no, password, HOSPITAL, f"窗口-{staff_no}")  # world.ctx holds 门诊1
    if shift:
        open_shift(world.db, user, D("100.00"))
    settings = CounterSettings(user, tmp_path / "slips", today=TODAY)
    win = CounterWindow(world.db, user, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    idle(qtbot, win)
    return win


def idle(qtbot, win: CounterWindow) -> None:
    qtbot.waitUntil(lambda: not win.busy, timeout=10_000)


def scan(qtbot, win: CounterWindow, text: str) -> None:
    assert win.scan.hasFocus()  # the scan field has the focus whenever the window is idle
    qtbot.keyClicks(win.scan, text)
    qtbot.keyClick(win.scan, Qt.Key.Key_Return)
    idle(qtbot, win)


def add_item(qtbot, win: CounterWindow, query: str, quantity: str | None = None) -> None:
    qtbot.keyClicks(win.claim.search, query)
    qtbot.waitUntil(lambda: win.claim.match_list.count() > 0 and not win.busy, timeout=10_000)
    if quantity:
        win.claim.quantity.setValue(float(quantity))
    qtbot.keyClick(win.claim.search, Qt.Key.Key_Return)


def press(qtbot, win: CounterWindow, key: Qt.Key) -> None:
    qtbot.keyClick(win, key)
    idle(qtbot, win)


def settlements(world) -> list[Settlement]:
    with world.db.sessions() as s:
        return list(s.scalars(select(Settlement).order_by(Settlement.id)))


def test_scan_add_preview_confirm_settles_and_prints(qtbot, window, world, tmp_path):
    scan(qtbot, window, world.certnos["child"])
    assert window.person_panel.fields["name"].text() == "张小明"
    assert "李芳（母亲）余额 500.00" in window.person_panel.providers.text()
    assert window.claim.search.hasFocus()
    add_item(qtbot, window, "A001")
    add_item(qtbot, window, "B001", quantity="2")
    assert window.claim.total.text() == "合计 500.00"
    press(qtbot, window, Qt.Key.Key_F5)
    panel = window.preview_panel
    assert panel.values["mulaid"].text() == "500.00" and panel.cash.text() == "0.00"
    assert "李*（母亲）支付 500.00" in panel.family.text()
    assert (
        "WH-2" in panel.reason.toolTip() and "职工医保" in panel.reason.text()
    )  # the words; the rule for the supervisor
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None, timeout=10_000)
    [row] = settlements(world)
    assert (row.acct_mulaid_pay, row.psn_cash_pay, row.cashier, row.counter) == (
        D("500.00"),
        D("0.00"),
        "c001",
        "窗口-c001",
    )
    assert (
        window.last_slip == tmp_path / "slips" / f"{row.setl_no}-01.pdf"
        and window.last_slip.stat().st_size > 5000
    )
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlipPrint)) == 1
        assert s.scalars(select(Outbox.infno).order_by(Outbox.id)).all() == ["2201", "2203", "2204", "2207"]
    # the settled split stays for the patient to see, marked with its number; the scan field is ready
    assert window.scan.hasFocus() and panel.status.text() == f"已结算　结算单号 {row.setl_no}"
    assert panel.values["mulaid"].text() == "500.00" and "结算成功" in window.message.text()
    press(qtbot, window, Qt.Key.Key_F9)  # nothing is settled twice from what stays on screen
    assert "请先预结算" in window.message.text() and len(settlements(world)) == 1
    press(qtbot, window, Qt.Key.Key_Escape)
    assert window.person is None and panel.status.text() == "" and panel.values["mulaid"].text() == ""


def test_tendered_cash_shows_the_change_and_goes_on_the_settlement(qtbot, window, world):
    scan(qtbot, window, world.certnos["stranger"])  # 赵强: own account 50.00, no family
    add_item(qtbot, window, "C001")  # 80.00 class C, no account may pay: all cash
    press(qtbot, window, Qt.Key.Key_F5)
    panel = window.preview_panel
    assert (
        panel.cash.text() == "80.00" and panel.tendered.hasFocus()
    )  # the cashier types what was handed over
    qtbot.keyClicks(panel.tendered, "50")
    assert panel.change.text() == "还差 30.00"
    qtbot.keyClicks(panel.tendered, "0")  # 500
    assert panel.change.text() == "420.00"
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: "找零 420.00" in window.message.text(), timeout=10_000)
    [row] = settlements(world)
    assert (row.tender, row.tendered, row.psn_cash_pay) == ("cash", D("500.00"), D("80.00"))
    assert panel.change.text() == "420.00" and panel.status.text().startswith("已结算")  # still shown
    scan(qtbot, window, world.certnos["retiree"])  # the next patient clears it
    assert panel.status.text() == "" and panel.tendered.text() == "" and panel.change.text() == ""


def test_a_bad_tendered_amount_is_refused_in_chinese_and_settles_nothing(qtbot, window, world):
    scan(qtbot, window, world.certnos["stranger"])
    add_item(qtbot, window, "C001")
    press(qtbot, window, Qt.Key.Key_F5)
    qtbot.keyClicks(window.preview_panel.tendered, "5.005")
    assert window.preview_panel.change.text() == "金额有误"
    press(qtbot, window, Qt.Key.Key_F9)
    assert "实收：最多两位小数（5.005）" in window.message.text() and settlements(world) == []


def test_bad_scans_are_refused_with_the_reason_and_change_nothing(qtbot, window, world):
    certno = world.certnos["child"]
    wrong = certno[:-1] + ("1" if certno[-1] != "1" else "2")
    scan(qtbot, window, wrong)
    assert "校验位错误" in window.message.text() and window.person is None
    scan(qtbot, window, "EV0000UNKNOWN")
    assert "未找到参保人" in window.message.text() and window.person is None
    assert window.scan.hasFocus() and settlements(world) == []


def test_family_fallback_is_shown_when_the_own_account_is_short(qtbot, window, world):
    with world.db.transaction() as s:  # the stranger (own balance 50.00) is bound to the retiree as spouse
        s.add(
            FamilyBinding(
                provider_id=world.retiree,
                beneficiary_id=5,
                relation="spouse",
                bound_at=dt.datetime(2023, 1, 1),
                commitment_signed_at=dt.datetime(2023, 1, 1),
                commitment_sha256="0" * 64,
                clerk="t",
                policy="wuhu-2022",
            )
        )
    scan(qtbot, window, world.certnos["stranger"])
    add_item(qtbot, window, "A001")  # 100.00: level 3, deductible not met, so the fund pays nothing
    press(qtbot, window, Qt.Key.Key_F5)
    values = window.preview_panel.values
    assert (values["own"].text(), values["mulaid"].text(), window.preview_panel.cash.text()) == (
        "50.00",
        "50.00",
        "0.00",
    )
    assert "王*国（配偶）支付 50.00" in window.preview_panel.family.text()
    window.claim.use_family.setChecked(False)  # the patient declines: the preview is void until redone
    assert window.shown is None and window.preview_panel.cash.text() == ""
    press(qtbot, window, Qt.Key.Key_F5)
    assert window.preview_panel.cash.text() == "50.00"


def test_balances_changed_since_preview_show_the_new_split_before_settling(qtbot, window, world):
    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "B001")
    press(qtbot, window, Qt.Key.Key_F5)
    assert "李*（母亲）支付 200.00" in window.preview_panel.family.text()
    other = svc.ClaimRequest(world.child, (svc.ClaimLine("A001"),) * 5, TODAY)
    svc.settle(world.db, world.ctx, other, None)  # another counter empties the mother's account
    press(qtbot, window, Qt.Key.Key_F9)
    assert "余额已变动" in window.preview_panel.notice.text()
    assert "张*（父亲）支付 200.00" in window.preview_panel.family.text()
    assert len(settlements(world)) == 1  # only the other counter's
    press(qtbot, window, Qt.Key.Key_F9)  # the cashier confirms the new split
    qtbot.waitUntil(lambda: len(settlements(world)) == 2, timeout=10_000)
    assert settlements(world)[1].acct_mulaid_pay == D("200.00")


def settle_one(qtbot, window, world) -> str:
    scan(qtbot, window, world.certnos["retiree"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_F5)
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None, timeout=10_000)
    return settlements(world)[-1].setl_no


def fill_refund(qtbot, window, staff_no: str, password: str) -> None:
    dialog = window.dialog
    qtbot.waitUntil(lambda: "医疗费 100.00" in dialog.summary.text(), timeout=10_000)
    dialog.reason.setText("患者退药")  # typed through an input method; QTest types ASCII only
    qtbot.keyClicks(dialog.staff_no, staff_no)
    qtbot.keyClicks(dialog.password, password)
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    idle(qtbot, window)


def test_refund_with_supervisor_approval_reverses_and_prints(qtbot, window, world):
    setl_no = settle_one(qtbot, window, world)
    press(qtbot, window, Qt.Key.Key_F11)
    assert window.dialog.setl_no.text() == setl_no
    fill_refund(qtbot, window, "s001", "5678")
    qtbot.waitUntil(
        lambda: (
            len(settlements(world)) == 2
            and window.last_slip.name.endswith("-01.pdf")
            and settlements(world)[1].setl_no in window.last_slip.name
        ),
        timeout=10_000,
    )
    refund = settlements(world)[1]
    assert (refund.kind, refund.approver, refund.cashier) == ("refund", "s001", "c001")
    assert "退费成功" in window.message.text()


def test_refund_without_supervisor_approval_is_refused(qtbot, window, world):
    settle_one(qtbot, window, world)
    press(qtbot, window, Qt.Key.Key_F11)
    fill_refund(qtbot, window, "c001", "1234")  # a cashier cannot approve
    assert "无退费审批权限" in window.message.text()
    first = window.dialog
    press(qtbot, window, Qt.Key.Key_F11)
    assert window.dialog is not first and window.dialog.isVisible()
    fill_refund(qtbot, window, "s001", "wrong")
    assert "工号或密码错误" in window.message.text()
    assert [s.kind for s in settlements(world)] == ["settle"]


def test_reprint_is_marked_and_numbered(qtbot, window, world):
    setl_no = settle_one(qtbot, window, world)
    press(qtbot, window, Qt.Key.Key_F10)
    qtbot.keyClick(window.dialog.setl_no, Qt.Key.Key_Return)
    window.dialog.accept()
    qtbot.waitUntil(lambda: window.last_slip.name == f"{setl_no}-02.pdf", timeout=10_000)


def test_pharmacy_clerk_may_reprint_but_not_refund(qtbot, world, tmp_path):
    win = open_window(qtbot, world, tmp_path, "p001", "1234")
    press(qtbot, win, Qt.Key.Key_F11)
    assert "无退费权限" in win.message.text()


def test_esc_cancels_the_patient_on_screen(qtbot, window, world):
    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_Escape)
    assert window.person is None and window.lines == [] and window.scan.hasFocus()


def test_function_keys_are_shown_on_the_buttons(window):
    labels = {key: button.text() for key, button in window.buttons.items()}
    assert all(f"[{key}]" in text for key, text in labels.items())
    assert {"F5", "F9", "F10", "F11", "Esc"} <= set(labels)


def test_status_bar_shows_database_user_and_sync_state(qtbot, window, world):
    settle_one(qtbot, window, world)
    window.refresh_status()
    qtbot.waitUntil(lambda: "待传 1" in window.status_sync.text(), timeout=10_000)
    assert (
        "张晓燕（门诊收费员）" in window.status_user.text()
        and window.status_db.text() == "数据：本机数据库"
        and "sqlite" in window.status_db.toolTip()
    )


def test_qt_is_imported_in_one_place_only():
    root = Path(__file__).resolve().parents[2] / "counter_app"
    importers = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if re.search(r"^\s*(from|import) PySide6", p.read_text(encoding="utf-8"), re.M)
    ]
    assert importers == ["ui/qt.py"]


def test_supervisor_sees_parked_messages_with_the_reason_and_releases_one(qtbot, world, tmp_path):
    from counter_app.store.models import Outbox

    done = svc.settle(
        world.db, world.ctx, svc.ClaimRequest(world.retiree, (svc.ClaimLine("A001"),), TODAY), None
    )
    with world.db.transaction() as s:  # as the drain leaves a message the centre rejected
        msg = s.scalar(select(Outbox).where(Outbox.msgid == done.msgid))
        msg.status, msg.last_error = "parked", "中心拒绝：人员编号不存在"
    cashier = open_window(qtbot, world, tmp_path, "c001", "1234")
    press(qtbot, cashier, Qt.Key.Key_F12)
    assert "无权查看上传队列" in cashier.message.text()
    win = open_window(qtbot, world, tmp_path, "s001", "5678")
    press(qtbot, win, Qt.Key.Key_F12)
    table = win.dialog.table
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=10_000)
    assert [table.item(0, c).text() for c in (0, 1, 2, 5)] == [
        "挂起",
        "门诊结算（2207）",
        done.setl_no,
        "中心拒绝：人员编号不存在",
    ]
    metrics = table.fontMetrics()
    for column in (2, 6):  # 结算单号 and 报文号 are read whole, never cut (issue 27)
        assert table.columnWidth(column) >= metrics.horizontalAdvance(table.item(0, column).text())
    table.selectRow(0)
    win.dialog.release_button.click()  # no reason given: refused, nothing changes
    qtbot.waitUntil(lambda: win.dialog.message.text() == "请填写原因", timeout=10_000)
    assert table.item(0, 0).text() == "挂起"
    win.dialog.reason.setText("人员编号已更正")  # typed with an input method: keyClicks takes ASCII only
    win.dialog.release_button.click()
    qtbot.waitUntil(lambda: table.rowCount() == 1 and table.item(0, 0).text() == "待传", timeout=10_000)
    with world.db.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "outbox_release"))
    assert (entry.staff_no, entry.object) == ("s001", done.msgid) and "人员编号已更正" in entry.detail


def test_the_status_bar_shows_parked_and_overdue_messages_in_red(qtbot, world, tmp_path):
    done = svc.settle(
        world.db,
        world.ctx,
        svc.ClaimRequest(world.retiree, (svc.ClaimLine("A001"),), TODAY),
        None,
        now=dt.datetime(2024, 5, 10, 9, 0),
    )  # long ago: overdue
    win = open_window(qtbot, world, tmp_path, "c001", "1234")
    win.refresh_status()
    qtbot.waitUntil(lambda: "待传 1（最早 05-10 09:00）" in win.status_sync.text(), timeout=10_000)
    assert "color:#b00020" in win.status_sync.text() and "挂起 0" in win.status_sync.text()
    with world.db.transaction() as s:  # the centre refused it
        msg = s.scalar(select(Outbox).where(Outbox.msgid == done.msgid))
        msg.status, msg.last_error = "parked", "中心拒绝：测试"
    win.refresh_status()
    qtbot.waitUntil(lambda: "<b style='color:#b00020'>挂起 1</b>" in win.status_sync.text(), timeout=10_000)
    assert "上传队列 (F12)" in win.status_sync.toolTip()
    assert not win.buttons["F12"].isEnabled()  # a cashier cannot open the queue; the supervisor can


def test_a_pasted_megabyte_or_control_characters_in_the_scan_field_get_a_clear_message(qtbot, world, window):
    from tests.services.test_permissions import rows

    before = rows(world.db)
    for pasted, message in (("4" * 1_000_000, "扫描内容过长"), ("3402\x07\x1b[0m", "控制字符")):
        window.scan.setText(pasted)  # a paste: QLineEdit keeps at most 32,767 characters of it
        qtbot.keyClick(window.scan, Qt.Key.Key_Return)
        idle(qtbot, window)
        assert message in window.message.text() and window.person is None
    good = world.certnos["child"]
    scan(qtbot, window, good[:17] + ("0" if good[17] != "0" else "1"))
    assert "校验位错误" in window.message.text() and window.person is None
    assert rows(world.db) == before  # nothing written


def test_standard_buttons_read_chinese_not_ok_cancel(qtbot, window):
    """Qt's own translations (qtbase) are loaded at start: 确定/取消 on every standard button."""
    from counter_app.ui.qt import QDialogButtonBox

    press(qtbot, window, Qt.Key.Key_F10)  # the reprint dialog has OK and Cancel
    texts = {b.text().replace("&", "") for b in window.dialog.findChildren(QDialogButtonBox)[0].buttons()}
    assert texts == {"确定", "取消"}, texts
    window.dialog.reject()


def test_f6_changes_the_quantity_of_the_selected_line_by_keyboard(qtbot, window, world):
    scan(qtbot, window, world.certnos["retiree"])
    add_item(qtbot, window, "A001")
    add_item(qtbot, window, "B001")
    window.claim.table.selectRow(0)
    press(qtbot, window, Qt.Key.Key_F6)
    assert window.claim.quantity.hasFocus() and window.claim.quantity.value() == 1
    window.claim.quantity.lineEdit().selectAll()
    qtbot.keyClicks(window.claim.quantity.lineEdit(), "3")
    qtbot.keyClick(window.claim.quantity.lineEdit(), Qt.Key.Key_Return)
    assert [(line.entry.code, line.quantity) for line in window.lines] == [
        ("A001", D("3.00")),
        ("B001", D("1")),
    ]
    assert window.claim.total.text() == "合计 500.00" and window.claim.search.hasFocus()


def test_a_search_with_no_match_says_so_and_the_next_match_clears_it(qtbot, window, world):
    scan(qtbot, window, world.certnos["retiree"])
    qtbot.keyClicks(window.claim.search, "ZZZZ")
    qtbot.waitUntil(lambda: "目录中没有与“ZZZZ”匹配的项目" in window.message.text(), timeout=10_000)
    window.claim.search.clear()
    qtbot.keyClicks(window.claim.search, "A001")
    qtbot.waitUntil(
        lambda: window.claim.match_list.count() > 0 and window.message.text() == "", timeout=10_000
    )


def texts_of(root) -> list[str]:
    """Every text a person sees on a window or dialog: labels, buttons, titles, placeholders, headers."""
    from counter_app.ui.qt import QAbstractButton, QGroupBox, QLabel, QLineEdit, QTableWidget

    seen = [w.text() for w in root.findChildren(QLabel) + root.findChildren(QAbstractButton)]
    seen += [w.title() for w in root.findChildren(QGroupBox)]
    seen += [w.placeholderText() for w in root.findChildren(QLineEdit)]
    for t in root.findChildren(QTableWidget):
        seen += [
            t.horizontalHeaderItem(c).text() for c in range(t.columnCount()) if t.horizontalHeaderItem(c)
        ]
    return [*seen, root.windowTitle()]


def assert_plain_chinese(seen: list[str]) -> None:
    """No Latin word (keys, codes, ids and amounts aside), no national field name, no URL, no pack id."""
    import re as regex

    text = "\n".join(t for t in seen if t)
    allowed = regex.compile(r"\b(?:F\d{1,2}|Esc|Del|Ctrl|ID|CT|B)\b")  # keys, 就诊ID, 头颅CT, Ctrl+B
    words = [
        w
        for w in regex.findall(r"[A-Za-z][A-Za-z_]{2,}", allowed.sub("", text))
        if not regex.fullmatch(r"[A-Z]\d+", w)
    ]
    assert words == [], words
    for raw in ("medfee_sumamt", "sqlite", "wuhu-2022", "hifp_pay", "WH-2", "infno", "setl_"):
        assert raw not in text, raw


def test_the_cashiers_screens_show_no_english_and_no_raw_field_name(qtbot, window, world):
    """Every text a cashier sees on the counter window and its dialogs, after a settlement."""
    settle_one(qtbot, window, world)
    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_F5)
    seen = texts_of(window)
    for key in (Qt.Key.Key_F10, Qt.Key.Key_F11, Qt.Key.Key_F7):  # reprint, refund, close shift dialogs
        press(qtbot, window, key)
        seen += texts_of(window.dialog)
        window.dialog.reject()
        idle(qtbot, window)
    assert_plain_chinese(seen)


def test_the_other_counters_and_dialogs_show_plain_chinese_too(qtbot, world, tmp_path):
    """The open-shift dialog, the inpatient counter with its admission dialog, the supervisor's upload queue."""
    add_staff(world.db, "z001", "刘洋", "inpatient_cashier", "1234")
    fresh = open_window(qtbot, world, tmp_path, "z001", "1234", shift=False)
    qtbot.waitUntil(
        lambda: getattr(fresh, "dialog", None) is not None and fresh.dialog.isVisible(), timeout=10_000
    )
    seen = texts_of(fresh) + texts_of(fresh.dialog)  # 开班
    fresh.dialog.opening_float.setText("0.00")
    qtbot.keyClick(fresh.dialog.opening_float, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: fresh.shift is not None, timeout=10_000)
    scan(qtbot, fresh, world.certnos["retiree"])
    qtbot.waitUntil(lambda: "不在院" in fresh.message.text(), timeout=10_000)
    press(qtbot, fresh, Qt.Key.Key_F4)
    seen += texts_of(fresh.dialog)  # 入院
    fresh.dialog.reject()
    boss = open_window(qtbot, world, tmp_path, "s001", "5678")
    press(qtbot, boss, Qt.Key.Key_F12)
    seen += texts_of(boss) + texts_of(boss.dialog)  # 上传队列
    assert_plain_chinese(seen)


def test_the_window_fits_1366x728_and_the_amounts_grow_at_1920x1080(qtbot, window, world):
    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_F5)
    window.resize(1366, 728)
    qtbot.waitUntil(lambda: window.size().height() == 728, timeout=10_000)  # nothing holds it taller
    small = window.preview_panel.cash.font().pointSizeF()
    assert window.minimumSizeHint().height() <= 728 and window.minimumSizeHint().width() <= 1366
    window.resize(1920, 1080)
    qtbot.waitUntil(lambda: window.size().height() == 1080, timeout=10_000)
    assert window.preview_panel.cash.font().pointSizeF() > small * 1.3  # the amounts grow into the room


# A self-pay patient at the counter, end to end (issue 24): a walk-in without insurance is typed by
# name, pays the whole price in cash, and gets a receipt marked 自费; nothing goes to the centre.


def test_a_walk_in_pays_self_pay_and_gets_a_receipt(qtbot, window, world):
    qtbot.mouseClick(window.claim.self_pay, Qt.MouseButton.LeftButton)
    assert (
        window.claim.payer.isVisible()
        and window.claim.payer.hasFocus()
        and not window.claim.use_own.isEnabled()
    )
    window.claim.payer.setText("钱多多")  # QTest types Latin keys only: the name goes in as an IME would
    add_item(qtbot, window, "A001", quantity="2")
    press(qtbot, window, Qt.Key.Key_F5)
    assert (
        window.preview_panel.cash.text() == "200.00" and window.preview_panel.values["fund"].text() == "0.00"
    )
    assert "自费：钱多多 全额自付" in window.preview_panel.notice.text()
    qtbot.keyClicks(window.preview_panel.tendered, "200")
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None and window.last_slip.exists(), timeout=10_000)
    idle(qtbot, window)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(window.last_slip.read_bytes())).pages)
    assert "自费收费收据" in text and "钱多多" in text and "200.00" in text
    with world.db.sessions() as s:
        row = s.scalars(select(Settlement).order_by(Settlement.id.desc())).first()
        assert (row.policy, row.payer_name, row.psn_cash_pay) == ("self-pay", "钱多多", Decimal("200.00"))
        assert s.scalar(select(func.count()).select_from(Outbox).where(Outbox.settlement_id == row.id)) == 0


def test_an_unmapped_item_says_why_and_sells_as_self_pay(qtbot, window, world, tmp_path):
    price = gl.write_table(
        tmp_path,
        "price_list",
        ("医院项目编码", "项目名称", "单位", "单价"),
        [("D901", "自制膏方", "剂", "88.00")],
    )
    price_list.import_file(world.db, world.actor("supervisor"), price)
    scan(qtbot, window, world.certnos["retiree"])
    add_item(qtbot, window, "D901")
    press(qtbot, window, Qt.Key.Key_F5)
    assert "自制膏方（D901）：未对照国家医保编码，只能自费结算" in window.message.text()
    qtbot.mouseClick(window.claim.self_pay, Qt.MouseButton.LeftButton)
    assert not window.claim.payer.isVisible()  # the patient on screen pays
    press(qtbot, window, Qt.Key.Key_F5)
    assert window.preview_panel.cash.text() == "88.00"
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: "结算成功" in window.message.text(), timeout=10_000)


def test_a_cashier_whose_password_changed_signs_in_again_before_settling(qtbot, window, world):
    """Issue 26: the staff row changed after sign-in (a new password set by the supervisor); the
    settle is refused with the reason, nothing is written, and the window waits behind the
    sign-in dialog; the same cashier with the new password carries on and settles."""
    from counter_app.services.staff import hash_password
    from counter_app.store.models import Staff

    with world.db.transaction() as s:
        s.scalar(select(Staff).where(Staff.staff_no == "c001")).password_hash = hash_password("new-9876")
    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_F5)
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(
        lambda: window.sign_in_again is not None and window.sign_in_again.isVisible(), timeout=10_000
    )
    assert "密码已更改，请重新登录" in window.errors[-1] and window.sign_in_again.isModal()
    assert settlements(world) == []
    dialog = window.sign_in_again
    dialog.staff_no.setText("c001")
    dialog.password.setText("new-9876")
    dialog.try_sign_in()
    qtbot.waitUntil(lambda: window.sign_in_again is None, timeout=10_000)
    assert window.user.credential != "" and "已重新登录" in window.message.text()
    from counter_app.ui.qt import QApplication

    window.activateWindow()  # what the window manager does when a modal dialog closes
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=10_000)
    press(qtbot, window, Qt.Key.Key_F5)
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: len(settlements(world)) == 1, timeout=10_000)


def test_a_full_disk_is_said_in_chinese_and_nothing_is_half_written(qtbot, window, world):
    """SQLite's own 'database or disk is full' (its page limit set to what the compacted file holds) on
    confirming a settle: the cashier reads what happened and what to do; no row of it was kept."""
    from sqlalchemy import event

    scan(qtbot, window, world.certnos["child"])
    add_item(qtbot, window, "A001")
    press(qtbot, window, Qt.Key.Key_F5)
    import sqlite3
    from contextlib import closing

    world.db.dispose()
    with closing(sqlite3.connect(world.db.url.database, isolation_level=None)) as raw:
        # small pages and none free: the settlement's claim needs new (overflow) pages, past the limit
        raw.execute("PRAGMA journal_mode=DELETE")
        raw.execute("PRAGMA page_size=512")
        raw.execute("VACUUM")
        raw.execute("PRAGMA journal_mode=WAL")
        pages = raw.execute("PRAGMA page_count").fetchone()[0]

    def full(dbapi_conn, _record) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages}")

    event.listen(world.db.engine, "connect", full)
    world.db.engine.dispose()  # every writing connection from now on has the limit
    with world.db.sessions() as s:
        ledger_before = s.scalar(select(func.count()).select_from(LedgerEntry))
    press(qtbot, window, Qt.Key.Key_F9)
    assert "数据库所在磁盘已满，本次操作没有保存" in window.message.text()
    assert "database or disk is full" not in window.message.text()
    event.remove(world.db.engine, "connect", full)
    world.db.engine.dispose()
    assert settlements(world) == []
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == ledger_before


def test_a_bill_paid_by_card_and_cash_shows_the_rest_and_the_refund_says_what_to_hand_back(
    qtbot, window, world
):
    from pypdf import PdfReader

    scan(qtbot, window, world.certnos["stranger"])
    add_item(qtbot, window, "C001")  # 80.00, all cash part
    press(qtbot, window, Qt.Key.Key_F5)
    panel = window.preview_panel
    panel.split["card"].setText("50.00")
    assert panel.rest_cash.text() == "其余现金 30.00"
    panel.tendered.setText("40.00")
    assert panel.change.text() == "10.00"  # against the cash still due, not the whole cash part
    panel.split["wechat"].setText("50")
    assert panel.rest_cash.text() == "超过应收现金"
    panel.split["wechat"].setText("")
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None, timeout=10_000)
    assert "应收现金 30.00（银行卡 50.00，其余现金），实收 40.00，找零 10.00" in window.message.text()
    [row] = settlements(world)
    assert row.tender == "mixed"
    text = PdfReader(window.last_slip).pages[0].extract_text().replace("\n", "")
    assert "银行卡 50.00 + 现金 30.00" in text
    press(qtbot, window, Qt.Key.Key_F11)
    dialog = window.dialog
    qtbot.waitUntil(
        lambda: "现金 80.00（银行卡 50.00 + 现金 30.00）" in dialog.summary.text(), timeout=10_000
    )
    dialog.to_cash.setChecked(True)
    dialog.reason.setText("患者退药")
    qtbot.keyClicks(dialog.staff_no, "s001")
    qtbot.keyClicks(dialog.password, "5678")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: "应退：现金 80.00" in window.message.text(), timeout=10_000)
    assert window.preview_panel.change.text() == "" and window.preview_panel.status.text().startswith(
        "已退费"
    )


def test_a_partial_refund_picks_the_lines_and_prints_both_slips(qtbot, window, world, tmp_path):
    scan(qtbot, window, world.certnos["retiree"])
    add_item(qtbot, window, "A001")
    add_item(qtbot, window, "B001")
    press(qtbot, window, Qt.Key.Key_F5)
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None, timeout=10_000)
    [original] = settlements(world)
    press(qtbot, window, Qt.Key.Key_F11)
    dialog = window.dialog
    qtbot.waitUntil(lambda: dialog.lines.count() == 2, timeout=10_000)
    assert dialog.lines.item(1).text().startswith("B001 头颅CT × 1")
    dialog.lines.item(0).setCheckState(Qt.CheckState.Unchecked)  # keep the A001, return the CT
    dialog.reason.setText("检查取消")
    qtbot.keyClicks(dialog.staff_no, "s001")
    qtbot.keyClicks(dialog.password, "5678")
    qtbot.keyClick(dialog.password, Qt.Key.Key_Return)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: len(settlements(world)) == 3, timeout=10_000)
    refund, again = settlements(world)[1:]
    assert (refund.kind, again.kind, again.medfee_sumamt) == ("refund", "settle", D("100.00"))
    qtbot.waitUntil(lambda: "部分退费：退费" in window.message.text(), timeout=10_000)
    assert f"保留项目重新结算 {again.setl_no}" in window.message.text()
    slips = tmp_path / "slips"
    qtbot.waitUntil(
        lambda: (
            (slips / f"{refund.setl_no}-01.pdf").exists() and (slips / f"{again.setl_no}-01.pdf").exists()
        ),
        timeout=10_000,
    )
    assert original.setl_no in window.message.text()


def test_enter_in_a_half_filled_refund_moves_on_instead_of_closing(qtbot, window, world):
    settle_one(qtbot, window, world)
    press(qtbot, window, Qt.Key.Key_F11)
    dialog = window.dialog
    qtbot.waitUntil(lambda: "医疗费 100.00" in dialog.summary.text(), timeout=10_000)
    dialog.reason.setFocus()
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)  # no reason yet
    assert dialog.isVisible() and dialog.reason.hasFocus()
    dialog.reason.setText("患者退药")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.staff_no.hasFocus()
    qtbot.keyClicks(dialog.staff_no, "s001")
    qtbot.keyClick(dialog.staff_no, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.password.hasFocus()
    assert [s.kind for s in settlements(world)] == ["settle"]


def test_the_a5_setting_prints_a5_with_the_total_in_words(qtbot, world, tmp_path):
    import dataclasses

    from pypdf import PdfReader

    win = open_window(qtbot, world, tmp_path, "c001", "1234")
    win.desk.settings = dataclasses.replace(win.settings, slip_size="a5")  # as 设置 (F8) or config set does
    settle_one(qtbot, win, world)
    qtbot.waitUntil(lambda: win.last_slip is not None, timeout=10_000)
    page = PdfReader(win.last_slip).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (420, 595)  # A5
    assert "合计（大写）：壹佰元整" in page.extract_text().replace("\n", "")


def test_del_in_the_item_field_removes_a_line_f6_clears_its_highlight_and_f10_says_so(qtbot, window, world):
    scan(qtbot, window, world.certnos["retiree"])
    add_item(qtbot, window, "A001")
    add_item(qtbot, window, "B001")
    assert window.claim.search.hasFocus() and len(window.lines) == 2
    qtbot.keyClick(window.claim.search, Qt.Key.Key_Delete)  # nothing typed: the last line goes
    assert [line.entry.code for line in window.lines] == ["A001"]
    qtbot.keyClicks(window.claim.search, "B0")
    qtbot.keyClick(window.claim.search, Qt.Key.Key_Delete)  # typing: Del edits the text, no line goes
    assert len(window.lines) == 1
    window.claim.search.clear()
    press(qtbot, window, Qt.Key.Key_F6)
    assert window.claim.table.selectedItems()
    qtbot.keyClick(window.claim.quantity.lineEdit(), Qt.Key.Key_Return)
    assert not window.claim.table.selectedItems()
    press(qtbot, window, Qt.Key.Key_F5)
    press(qtbot, window, Qt.Key.Key_F9)
    qtbot.waitUntil(lambda: window.last_slip is not None, timeout=10_000)
    setl_no = settlements(world)[-1].setl_no
    press(qtbot, window, Qt.Key.Key_F10)
    qtbot.keyClick(window.dialog.setl_no, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.dialog.summary.text() != "", timeout=10_000)
    window.dialog.accept()
    qtbot.waitUntil(
        lambda: f"已补打结算单 {setl_no}（票据号 {setl_no}-02" in window.message.text(), timeout=10_000
    )


def test_a_customer_display_with_one_screen_says_so(qtbot, world, tmp_path):
    import dataclasses

    application()
    user = sign_in(world.db, "c001", "1234", HOSPITAL, "窗口-c001")
    settings = dataclasses.replace(
        CounterSettings(user, tmp_path / "slips", today=TODAY), customer_display=True
    )
    win = CounterWindow(world.db, user, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(
        lambda: (
            any("本机只有一个显示器" in e for e in win.errors) or "本机只有一个显示器" in win.message.text()
        ),
        timeout=10_000,
    )
    assert win.customer is None
