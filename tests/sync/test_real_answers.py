"""The counter against answers shaped as the platform writes them and against a centre that answers
badly on purpose (issue 23): integer infcode, "" and null amounts, extra keys; null, a list, wrong
types, deep nesting, another patient's ids, a slow drip. No traceback, a bounded time, nothing
recorded as done, the reason visible, nothing lost. And who the patient is: 1101 online, the
registry as a cache offline, an e-voucher refused offline, a patient insured elsewhere settled by
the centre only."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from counter_app import identity, registry_file
from counter_app.services import elsewhere, lookup
from counter_app.services import settlement as svc
from counter_app.services.errors import CentreUnavailable, InsuredElsewhere, NotFound, ServiceError
from counter_app.services.registry_export import export
from counter_app.store.models import CentreResult, LedgerEntry, Outbox, Person, Settlement
from counter_app.sync import answers, compare
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from counter_app.sync.inpatient_link import CentreLink
from counter_app.sync.outbox import RetryPolicy, drain, unsent
from tests.centre_process import CentreProcess
from tests.services.world import TODAY, build

TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
NOW = dt.datetime(2024, 5, 10, 18, 0)
STRANGER = identity.make("340207", dt.date(1990, 1, 1), 31)
FAR = identity.make("340104", dt.date(1988, 1, 2), 3)  # insured in Hefei
NOBODY = identity.make("340207", dt.date(1990, 1, 1), 51)
D = Decimal


def fast() -> RetryPolicy:
    return RetryPolicy(base_seconds=0.0, cap_seconds=0.0)


@pytest.fixture
def world(sqlite_url):
    return build(sqlite_url, mother_balance="100000.00")


def registry_with_strangers(world, folder):
    """The world's population as the centre holds it, plus two people the counter has never seen:
    a local employee, and a resident insured in Hefei (another city)."""
    data = export(world.db)
    data["persons"] += [
        {
            "psn_no": "C0900",
            "certno": STRANGER,
            "name": "赵新",
            "gend": "1",
            "brdy": "1990-01-01",
            "insutype": "310",
            "psn_type": "in_service",
            "status": "normal",
            "insuplc_admdvs": "340202",
            "emp_name": "芜湖某厂",
            "cards": [{"card_no": "B00000900", "card_sn": "0123456789ABCDEF"}],
            "account": {"balance": "320.00", "open": True},
        },
        {
            "psn_no": "C0901",
            "certno": FAR,
            "name": "钱远",
            "gend": "1",
            "brdy": "1988-01-02",
            "insutype": "310",
            "psn_type": "in_service",
            "status": "normal",
            "insuplc_admdvs": "340104",
            "cards": [],
            "account": {"balance": "900.00", "open": True},
        },
    ]
    path = folder / "registry.json"
    registry_file.dump(data, path)
    return path


@pytest.fixture
def centre(tmp_path, world):
    c = CentreProcess(tmp_path, registry_file=registry_with_strangers(world, tmp_path)).start()
    yield c
    c.stop()


def settle(world) -> svc.Settled:
    return svc.settle(
        world.db, world.ctx, svc.ClaimRequest(world.child, (svc.ClaimLine("A001"),), TODAY), None, now=NOW
    )


def signed_in(world, centre) -> CentreClient:
    from counter_app.sync import signin

    client = CentreClient(centre.url, credentials=TRAINING, timeout=2, deadline=4)
    signin.sign_in(world.db, client, world.ctx.institution_code, world.ctx.staff_no, "张晓燕", now=NOW)
    return client


# ----- reading answers


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        (0, True),
        ("0", True),
        (" 0", True),
        (-1, False),
        ("-1", False),
        (None, False),
        (True, False),
        (D("0"), True),
        ("abc", False),
    ],
)
def test_infcode_is_read_by_value(code, ok):
    assert answers.succeeded({"infcode": code}) is ok


def test_empty_and_null_amounts_are_absent_and_never_a_crash():
    ours = dict.fromkeys(
        (
            "medfee_sumamt",
            "fulamt_ownpay_amt",
            "overlmt_selfpay",
            "preselfpay_amt",
            "inscp_scp_amt",
            "act_pay_dedc",
            "hifp_pay",
            "fund_pay_sumamt",
            "psn_part_amt",
            "acct_pay",
            "acct_mulaid_pay",
            "psn_cash_pay",
        ),
        "0.00",
    )
    ours["medfee_sumamt"] = ours["psn_part_amt"] = ours["psn_cash_pay"] = ours["fulamt_ownpay_amt"] = "10.00"
    theirs = {**{k: D(v) for k, v in ours.items()}, "acct_mulaid_pay": "", "inscp_scp_amt": None}
    assert compare.differences(ours, theirs) == {}  # not given where the counter has nothing: no difference
    assert compare.differences({**ours, "acct_mulaid_pay": "5.00"}, theirs) == {
        "acct_mulaid_pay": ["5.00", "缺失"]
    }
    assert answers.amount("") is None and answers.amount(None) is None and answers.amount(800) == D(800)
    with pytest.raises(answers.AnswerError, match="acct_pay 应为数值"):
        answers.amount("abc", "acct_pay")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (None, "应为 JSON 对象"),
        ([1, 2], "应为 JSON 对象"),
        ({"infcode": 0, "output": {"setlinfo": [1]}}, "setlinfo 应为对象"),
        (
            {
                "infcode": 0,
                "output": {"setlinfo": {"setl_id": "S1", "psn_no": "P0001", "medfee_sumamt": "abc"}},
            },
            "medfee_sumamt 应为数值",
        ),
        (
            {
                "infcode": 0,
                "output": {
                    "setlinfo": {
                        "setl_id": "S1",
                        "psn_no": "P0001",
                        "medfee_sumamt": 100,
                        "fund_pay_sumamt": 10,
                        "psn_part_amt": 10,
                    }
                },
            },
            "不自洽",
        ),
        ({"infcode": 0, "output": {"setlinfo": {"setl_id": "S1", "psn_no": "P9999"}}}, "另一位参保人"),
    ],
)
def test_a_bad_answer_to_a_settlement_is_parked_with_the_reason_and_the_rest_of_the_batch_is_kept(
    world, centre, body, reason
):
    settle(world)
    other = svc.settle(
        world.db, world.ctx, svc.ClaimRequest(world.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=NOW
    )
    client = signed_in(world, centre)
    centre.answer_next(body, after=3)  # the child's 2207 is the 4th message: its answer replaced
    report = drain(world.db, client, policy=fast(), now=lambda: NOW)
    left = [(m.infno, m.status) for m in unsent(world.db, per_message=True)]
    assert report.parked == 1 and report.sent == 7, (report, left)
    [parked] = unsent(world.db, "parked")
    assert parked.infno == "2207" and "中心应答无效" in parked.last_error and reason in parked.last_error
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CentreResult)) == 1  # only the retiree's, recorded
        assert s.scalar(select(Outbox.status).where(Outbox.msgid == other.msgid)) == "sent"


def test_deep_nesting_and_text_that_is_not_json(world, centre):
    settle(world)
    client = signed_in(world, centre)
    centre.answer_next(raw="[" * 100_000 + "]" * 100_000)
    report = drain(world.db, client, policy=fast(), now=lambda: NOW)
    assert report.parked == 1 and "嵌套过深" in unsent(world.db, "parked")[0].last_error
    centre.answer_next(raw="<html>bad gateway</html>")
    assert drain(world.db, client, policy=fast(), now=lambda: NOW).sent == 0  # parked ahead: the rest waits


def test_another_patients_ids_in_a_real_answer_are_not_recorded_as_equal(world, centre):
    settle(world)
    client = signed_in(world, centre)
    centre.tamper_next(
        {"output.setlinfo.psn_no": "P0004"}, after=3
    )  # the retiree's number on the child's 2207
    report = drain(world.db, client, policy=fast(), now=lambda: NOW)
    assert report.parked == 1
    assert "另一位参保人" in unsent(world.db, "parked")[0].last_error
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CentreResult)) == 0


@pytest.mark.slow
def test_a_centre_that_drips_its_answer_costs_a_bounded_time_and_loses_nothing(world, centre):
    done = settle(world)
    client = signed_in(world, centre)
    centre.fault("drip", count=1, seconds=0.5)  # ~300 bytes at 2 per second: far past the 4 s deadline
    report = drain(world.db, client, policy=fast(), now=lambda: NOW)
    assert report.retried == 1 and "秒内未完成应答" in report.errors[0]
    assert [m.infno for m in unsent(world.db, "pending", per_message=True)][-1] == "2207"  # queued, not lost
    assert done.msgid in {m.msgid for m in unsent(world.db, "pending", per_message=True)}


def test_a_centre_answering_infcode_as_text_is_read_the_same(world, tmp_path):
    settle(world)
    c = CentreProcess(
        tmp_path, registry=world.db.url.render_as_string(hide_password=False), infcode="text"
    ).start()
    try:
        assert (
            drain(world.db, CentreClient(c.url, credentials=TRAINING), policy=fast(), now=lambda: NOW).sent
            == 4
        )
        raw = c.record.read_text(encoding="utf-8")
    finally:
        c.stop()
    assert '"infno":"9001"' in raw


# ----- who the patient is (1101)


def link(world, centre) -> CentreLink:
    return CentreLink(world.db, CentreClient(centre.url, credentials=TRAINING, timeout=2, deadline=5))


def test_a_patient_unknown_to_the_counter_is_found_through_1101_and_cached(world, centre):
    view = lookup.scan(world.db, world.ctx, STRANGER, 2024, link(world, centre), now=NOW)
    assert isinstance(view, lookup.PersonView) and view.online and view.name == "赵新"
    assert view.balance == D("320.00") and view.account_open and not view.out_of_area  # opened from balc
    assert view.source_note(NOW) == "医保中心实时信息（1101）"
    by_card = lookup.scan(
        world.db, world.ctx, "B00000900|0123456789ABCDEF", 2024, link(world, centre), now=NOW
    )
    assert by_card.id == view.id and (by_card.cert_type, by_card.cert_no) == ("03", "B00000900")
    token = centre.evoucher("C0900")
    by_voucher = lookup.scan(world.db, world.ctx, token, 2024, link(world, centre), now=NOW)
    assert by_voucher.id == view.id and by_voucher.cert_type == "01"
    with world.db.sessions() as s:
        person = s.get(Person, view.id)
        assert person.learned_from.startswith("http://127.0.0.1") and person.insuplc_admdvs == "340202"
        assert (
            s.scalar(
                select(LedgerEntry.note).where(
                    LedgerEntry.kind == "opening", LedgerEntry.account_id == person.account.id
                )
            )
            == "期初余额（医保中心 1101）"
        )
    # offline afterwards: the cache, with its age; an e-voucher cannot be resolved
    away = CentreLink(
        world.db, CentreClient("http://127.0.0.1:9", credentials=TRAINING, timeout=1, deadline=2)
    )
    later = NOW + dt.timedelta(hours=3)
    cached = lookup.scan(world.db, world.ctx, "B00000900", 2024, away, now=later)
    assert not cached.online and cached.source_note(later).endswith("（3 小时前）")
    with pytest.raises(ServiceError, match=r"医保电子凭证须由医保中心核验.*请改用身份证或社保卡"):
        lookup.scan(world.db, world.ctx, centre.evoucher("C0900"), 2024, away, now=later)


def test_a_person_the_centre_does_not_know_is_refused_with_its_reason(world, centre):
    with pytest.raises(NotFound, match="医保中心查询不到该参保人：中心拒绝：未查询到参保人员信息"):
        lookup.scan(world.db, world.ctx, NOBODY, 2024, link(world, centre), now=NOW)


def test_a_patient_insured_elsewhere_is_settled_by_the_centre_only(world, centre):
    far = lookup.scan(world.db, world.ctx, FAR, 2024, link(world, centre), now=NOW)
    assert far.out_of_area and far.insuplc_admdvs == "340104" and not far.account_open
    request = svc.ClaimRequest(far.id, (svc.ClaimLine("A001"),), TODAY, cert_type="02", cert_no=far.certno)
    with pytest.raises(InsuredElsewhere, match="在外地参保"):
        svc.preview(world.db, world.ctx, request)  # the local pack never prices them
    with pytest.raises(CentreUnavailable, match="须由医保中心联网结算"):
        elsewhere.preview(world.db, world.ctx, request, None)
    online = link(world, centre)
    pv = elsewhere.preview(world.db, world.ctx, request, online, now=NOW)
    assert pv.result.medfee_sumamt == D("100.00") and pv.result.policy == "elsewhere-340104"
    done = elsewhere.settle(world.db, world.ctx, request, pv, online, now=NOW)
    with world.db.sessions() as s:
        row = s.get(Settlement, done.settlement_id)
        assert row.policy == "elsewhere-340104" and row.medfee_sumamt == D("100.00")
        assert s.scalars(select(Outbox.status).where(Outbox.settlement_id == row.id)).all() == ["sent"] * 4
        assert (
            s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.settlement_id == row.id))
            == 0
        )  # the account is the other region's
    # the centre away: nothing is recorded
    away = CentreLink(
        world.db, CentreClient("http://127.0.0.1:9", credentials=TRAINING, timeout=1, deadline=2)
    )
    with world.db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(Settlement))
    with pytest.raises(CentreUnavailable):
        elsewhere.settle(world.db, world.ctx, request, pv, away, now=NOW)
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Settlement)) == before
    assert json.loads(row.result_json)["pooling"]["reason"].startswith("centre: 异地就医")
