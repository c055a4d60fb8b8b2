"""Pre-settle, settle and refund against a real database, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from counter_app.services import lookup
from counter_app.services import settlement as svc
from counter_app.services.actor import PermissionDenied
from counter_app.services.errors import NotFound, RefundRefused, ServiceError
from counter_app.services.ledger import mismatched_accounts
from counter_app.store.models import Account, LedgerEntry, Outbox, Settlement, YearTotal

from .world import AT, TODAY, build

D = Decimal


def request(person_id: int, *codes: str, **kw) -> svc.ClaimRequest:
    return svc.ClaimRequest(person_id, tuple(svc.ClaimLine(c) for c in codes), TODAY, **kw)


def balances(db) -> dict[int, Decimal]:
    with db.sessions() as s:
        return dict(s.execute(select(Account.person_id, Account.balance)).all())


def totals(db, person_id: int) -> tuple[Decimal, Decimal]:
    with db.sessions() as s:
        return lookup.year_totals(s, person_id, 2024)


def test_preview_writes_nothing(db_url):
    w = build(db_url)
    before = balances(w.db)
    pv = svc.preview(w.db, w.ctx, request(w.child, "A001", "C001"))
    assert pv.result.acct_mulaid_pay == D("100.00") and pv.result.psn_cash_pay == D("80.00")
    assert balances(w.db) == before
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0


def test_HF_5_settle_draws_the_mother_then_the_father_in_binding_order(db_url):
    w = build(db_url, mother_balance="150.00")
    req = request(w.child, "A001", "B001")  # 100 + 200 = 300, all in Wuhu family scope
    done = svc.settle(w.db, w.ctx, req, svc.preview(w.db, w.ctx, req), now=AT)
    assert [(d.psn_no, d.relation, d.paid) for d in done.result.mulaid] == [
        ("P0002", "mother", D("150.00")),
        ("P0003", "father", D("150.00")),
    ]
    assert balances(w.db)[w.mother] == D("0.00") and balances(w.db)[w.father] == D("150.00")
    with w.db.sessions() as s:
        row = s.scalar(select(Settlement))
        assert (row.setl_no, row.cashier, row.counter) == ("H340202000010000000001", "cashier1", "门诊1")
        assert (
            row.acct_mulaid_pay == D("300.00") and json.loads(row.result_json)["acct_mulaid_pay"] == "300.00"
        )
        notes = s.scalars(select(LedgerEntry.note).where(LedgerEntry.settlement_id == row.id)).all()
        assert all("家庭共济" in n and "张小明" in n for n in notes) and len(notes) == 2
        visit = s.scalars(select(Outbox).order_by(Outbox.id)).all()  # the visit in the platform's order
        assert [(m.infno, m.status, m.settlement_id, m.visit_key) for m in visit] == [
            (infno, "pending", row.id, row.setl_no) for infno in ("2201", "2203", "2204", "2207")
        ]
        assert visit[-1].msgid == done.msgid and len({m.msgid for m in visit}) == 4
        assert all(
            len(m.msgid) == 30 and m.msgid.startswith("H34020200001" + "20240510093000") for m in visit
        )
        assert mismatched_accounts(s) == []


def test_settle_then_refund_leaves_every_balance_and_total_as_before(db_url):
    w = build(db_url)
    req = request(w.retiree, "A001", "B001", "A001")  # retiree: deductible met, pooling applies
    before = balances(w.db), totals(w.db, w.retiree)
    done = svc.settle(w.db, w.ctx, req, None, now=AT)
    assert done.result.hifp_pay > 0 and balances(w.db) != before[0] and totals(w.db, w.retiree) != before[1]
    back = svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), reason="患者退药", now=AT)
    assert (balances(w.db), totals(w.db, w.retiree)) == before
    with w.db.sessions() as s:
        orig, rev = s.scalars(select(Settlement).order_by(Settlement.id)).all()
        assert rev.kind == "refund" and rev.reverses_id == orig.id and rev.approver == "supervisor1"
        assert rev.medfee_sumamt == -orig.medfee_sumamt and rev.hifp_pay == -orig.hifp_pay
        mirrored = json.loads(rev.result_json)
        # 400 in all: fund (360 x 0.55) 198, own account 202, cash 0; the reversal negates each
        assert (orig.hifp_pay, orig.acct_pay, orig.psn_cash_pay) == (D("198.00"), D("202.00"), D("0.00"))
        assert (mirrored["hifp_pay"], mirrored["acct_pay"], mirrored["psn_cash_pay"]) == (
            "-198.00",
            "-202.00",
            "0.00",
        )
        assert mirrored["pool_prop_selfpay"] == json.loads(orig.result_json)["pool_prop_selfpay"]
        assert orig.setl_no == done.setl_no  # the original is kept as it was
        msgs = s.execute(select(Outbox.infno, Outbox.settlement_id).order_by(Outbox.id)).all()
        assert msgs == [
            ("2201", orig.id),
            ("2203", orig.id),
            ("2204", orig.id),
            ("2207", orig.id),
            ("2208", rev.id),
        ]
        assert (
            json.loads(s.scalar(select(Outbox.payload).where(Outbox.infno == "2208")))["omsgid"] == done.msgid
        )
        assert mismatched_accounts(s) == []
    assert back.reverses_setl_no == done.setl_no


def test_refund_refusals(db_url):
    w = build(db_url)
    done = svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)
    with pytest.raises(PermissionDenied, match="主管当场输入密码审批"):
        svc.refund(w.db, w.ctx, done.setl_no, "s001", reason="x")  # a name is not an approval
    with pytest.raises(PermissionDenied, match="不能用于"):
        svc.refund(
            w.db, w.ctx, done.setl_no, w.approval("H34020200001999"), reason="x"
        )  # another settlement's
    with pytest.raises(RefundRefused, match="退费原因"):
        svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), reason=" ")
    with pytest.raises(NotFound):
        svc.refund(w.db, w.ctx, "H34020200001999", w.approval("H34020200001999"), reason="x")
    back = svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), reason="x")
    with pytest.raises(RefundRefused, match="已经退费"):
        svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), reason="x")
    with pytest.raises(RefundRefused, match="本身是一笔退费"):
        svc.refund(w.db, w.ctx, back.setl_no, w.approval(back.setl_no), reason="x")


def test_split_changed_since_preview_is_refused_and_nothing_written(db_url):
    """Another counter drew the same family account after this cashier's preview."""
    w = build(db_url)
    shown = svc.preview(w.db, w.ctx, request(w.child, "B001"))  # 200: the mother pays all
    other = request(w.child, "A001")
    svc.settle(w.db, w.ctx, other, None, now=AT)  # the mother's 500 -> 400
    svc.settle(w.db, w.ctx, other, None, now=AT)  # -> 300
    svc.settle(w.db, w.ctx, request(w.child, "B001", "A001"), None, now=AT)  # -> 0; the father keeps 300
    before = balances(w.db)
    with pytest.raises(svc.SplitChanged) as changed:
        svc.settle(w.db, w.ctx, request(w.child, "B001"), shown, now=AT)
    assert balances(w.db) == before
    new = changed.value.preview
    assert [(d.psn_no, d.paid) for d in new.result.mulaid] == [("P0003", D("200.00"))]
    done = svc.settle(w.db, w.ctx, request(w.child, "B001"), new, now=AT)  # confirmed again: goes through
    assert done.result.mulaid == new.result.mulaid


def test_settlement_numbers_are_unique_and_never_reused(db_url):
    w = build(db_url)
    numbers = [svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT).setl_no for _ in range(3)]
    with pytest.raises(ServiceError):
        svc.settle(w.db, w.ctx, request(w.retiree, "NOPE"), None, now=AT)  # refused mid-way: rolled back
    numbers.append(svc.refund(w.db, w.ctx, numbers[0], w.approval(numbers[0]), "x").setl_no)
    numbers.append(svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT).setl_no)
    assert numbers == [f"H34020200001{n:010d}" for n in range(1, 6)]


def test_bad_requests_name_the_line_and_write_nothing(db_url):
    w = build(db_url)
    with pytest.raises(NotFound, match="第 2 行：目录中没有编码 X9"):
        svc.preview(w.db, w.ctx, request(w.child, "A001", "X9"))
    bad_qty = svc.ClaimRequest(w.child, (svc.ClaimLine("A001", D("-1")),), TODAY)
    with pytest.raises(ServiceError, match="数量应大于 0"):
        svc.settle(w.db, w.ctx, bad_qty, None)
    with pytest.raises(ServiceError, match="至少录入一个收费项目"):
        svc.preview(w.db, w.ctx, svc.ClaimRequest(w.child, (), TODAY))
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == 0


def test_WH_16_year_totals_accumulate_across_settlements(db_url):
    w = build(db_url)
    for _ in range(3):
        svc.settle(w.db, w.ctx, request(w.retiree, "A001"), None, now=AT)  # 100 at level 3, retiree 55 %
    assert totals(w.db, w.retiree) == (D("800.00"), D("165.00"))
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(YearTotal)) == 4  # the ytd row and three entries


def test_quantity_times_price_rounds_half_up(db_url):
    w = build(db_url)
    pv = svc.preview(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("B001", D("0.0025")),), TODAY))
    assert pv.claim.items[0].amount == D("0.50")  # 200 x 0.0025 = 0.5


def test_HF_2_2_closed_provider_account_pays_nobody(db_url):
    from counter_app.services.binding import close_account

    w = build(db_url)
    assert close_account(w.db, w.actor("supervisor"), w.mother, "转出") == 1
    pv = svc.preview(w.db, w.ctx, request(w.child, "A001"))
    assert [d.psn_no for d in pv.result.mulaid] == ["P0003"]


@pytest.mark.postgres
def test_two_counters_taking_a_new_number_sequence_at_once_never_collide(pg_url):
    """The first settlement of a sequence on two counters at once: the second waits for the first's
    row and takes the next number. (A select-then-insert made the second fail with a unique
    violation, a 系统错误 at the morning peak.) The wait is seen in pg_stat_activity, not timed."""
    import threading

    from sqlalchemy import create_engine, text

    from counter_app.services import numbers
    from counter_app.store.models import Institution

    w = build(pg_url)
    taken: dict[str, int] = {}
    first = w.db._writers()
    first.begin()
    inst = first.get(Institution, 1)
    taken["first"] = numbers.next_value(first, inst, "brand-new")  # holds the new row, not yet committed

    def second() -> None:
        with w.db.transaction() as s:
            taken["second"] = numbers.next_value(s, s.get(Institution, 1), "brand-new")

    other = threading.Thread(target=second)
    other.start()
    watcher = create_engine(
        pg_url.replace("postgresql://", "postgresql+psycopg://", 1)
        if pg_url.startswith("postgresql://")
        else pg_url
    )
    with watcher.connect() as conn:  # until the second counter is waiting on the first's row
        while not conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        ).scalar():
            conn.commit()
    first.commit()
    first.close()
    other.join(timeout=60)
    watcher.dispose()
    assert taken == {"first": 1, "second": 2}
