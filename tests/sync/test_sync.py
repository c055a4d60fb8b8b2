"""Sync against a real `counter-app centre` process: outages, lost replies, crashes, rejections."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from counter_app.services import settlement as svc
from counter_app.services.errors import ServiceError
from counter_app.store.models import CentreResult, Outbox
from counter_app.sync.client import CentreClient, Rejected
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials, sign
from counter_app.sync.outbox import RetryPolicy, drain, release, reverse, unsent
from counter_app.sync.reconcile import reconcile_day
from tests.centre_process import CentreProcess
from tests.services.world import TODAY, build

ROOT = Path(__file__).resolve().parents[2]
TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
NOW = dt.datetime(2024, 5, 10, 18, 0)


@pytest.fixture
def world(sqlite_url):
    return build(sqlite_url, mother_balance="100000.00")


@pytest.fixture
def centre(tmp_path, world):
    c = CentreProcess(tmp_path, registry=world.db.url.render_as_string(hide_password=False)).start()
    yield c
    c.stop()


def settle(world, person: int | None = None, code: str = "A001") -> svc.Settled:
    req = svc.ClaimRequest(person or world.child, (svc.ClaimLine(code),), TODAY)
    return svc.settle(world.db, world.ctx, req, None, now=NOW)


def statuses(world) -> dict[str, int]:
    with world.db.sessions() as s:
        return dict(s.execute(select(Outbox.status, func.count()).group_by(Outbox.status)).all())


def signed_in(world, centre) -> None:
    """The cashier signed in (9001) before a fault that counts requests: a drain signs in first."""
    from counter_app.sync import signin

    client = CentreClient(centre.url, credentials=TRAINING)
    signin.sign_in(world.db, client, world.ctx.institution_code, world.ctx.staff_no, "张晓燕")
    client.close()


def fast() -> RetryPolicy:
    return RetryPolicy(base_seconds=0.0, cap_seconds=0.0)


@pytest.mark.slow
def test_centre_down_while_1000_settlements_are_made_then_all_arrive_once(world, tmp_path):
    for n in range(1000):
        settle(world, person=(world.child, world.retiree, world.mother)[n % 3])
    client = CentreClient("http://127.0.0.1:9", timeout=1)  # nothing listens: the centre is down
    report = drain(world.db, client, policy=fast())
    assert (report.sent, report.retried) == (0, 1) and "ConnectError" in report.errors[0]
    centre = CentreProcess(tmp_path, registry=world.db.url.render_as_string(hide_password=False)).start()
    try:
        client = CentreClient(centre.url, credentials=TRAINING)
        total = drain(world.db, client, policy=fast())
        assert total.sent == 4000 and statuses(world) == {"sent": 4000}  # 2201, 2203, 2204, 2207 each
        stats = centre.stats()
        assert stats["records"] == {"settle:settled": 1000} and stats["duplicates"] == 0
        assert stats["by_infno"] == {"9001": 1, "2201": 1000, "2203": 1000, "2204": 1000, "2207": 1000}
        with world.db.sessions() as s:  # the centre computed every split itself, and agrees
            assert s.scalars(select(CentreResult.equal)).all() == [True] * 1000
    finally:
        centre.stop()


def test_replies_lost_after_commit_leave_no_duplicates(world, centre):
    for _ in range(20):
        settle(world)
    signed_in(world, centre)
    centre.fault("drop_after_commit", count=5)
    client = CentreClient(centre.url, credentials=TRAINING, timeout=5)
    while statuses(world).get("pending"):
        drain(world.db, client, policy=fast())
    stats = centre.stats()
    assert stats["records"] == {"settle:settled": 20}  # each settled once
    assert stats["duplicates"] == 5  # the five lost answers were asked again and answered the same
    assert stats["by_infno"] == {
        "9001": 1,
        **{
            infno: 20 + lost
            for infno, lost in zip(("2201", "2203", "2204", "2207"), (5, 0, 0, 0), strict=False)
        },
    }
    with world.db.sessions() as s:
        answers = [json.loads(r) for r in s.scalars(select(Outbox.response).where(Outbox.infno == "2207"))]
    assert len({a["output"]["setlinfo"]["setl_id"] for a in answers}) == 20


def test_500s_and_delays_are_retried_with_the_same_msgid(world, centre):
    done = settle(world)
    centre.fault("error500", count=2)
    client = CentreClient(centre.url, credentials=TRAINING)
    for _ in range(3):
        drain(world.db, client, policy=fast())
    assert statuses(world) == {"sent": 4}
    with world.db.sessions() as s:
        register, *_, settled = s.scalars(select(Outbox).order_by(Outbox.id))
    assert (register.infno, register.attempts) == ("2201", 3)  # the same msgid each time
    assert (settled.msgid, settled.infno, settled.attempts) == (done.msgid, "2207", 1)
    centre.fault("hold", count=1)  # the answer to the next message does not come until released
    settle(world)
    assert (
        drain(world.db, CentreClient(centre.url, credentials=TRAINING, timeout=0.5), policy=fast()).retried
        == 1
    )
    centre.fault("none")  # the held request goes on; whichever copy comes second is a repeat
    assert drain(world.db, client, policy=fast()).sent == 4
    stats = centre.stats(held=0)  # the held request has gone on, or been dropped with its client
    assert stats["records"] == {"settle:settled": 2}  # the abandoned copy, if it went on at all, was a repeat


def test_a_refund_never_arrives_before_its_settlement(world, centre):
    first = settle(world)
    refund = svc.refund(world.db, world.ctx, first.setl_no, world.approval(first.setl_no), "退药", now=NOW)
    centre.fault("error500", count=1)  # the settlement's first attempt fails
    client = CentreClient(centre.url, credentials=TRAINING)
    assert drain(world.db, client, policy=fast()).sent == 0  # nothing overtakes it
    with world.db.sessions() as s:
        due_now = s.scalars(select(Outbox.msgid).where(Outbox.status == "pending")).all()
    assert {first.msgid, refund.msgid} <= set(due_now) and len(due_now) == 5
    assert drain(world.db, client, policy=fast()).sent == 5
    # the centre found the original when the cancellation came: it came second
    assert centre.stats()["records"] == {"settle:cancelled": 1, "cancel:settled": 1}


def test_a_rejected_message_is_parked_not_retried_and_blocks_only_that_person(world, centre):
    bad = settle(world)
    behind = svc.refund(world.db, world.ctx, bad.setl_no, world.approval(bad.setl_no), "x", now=NOW)
    settle(world, person=world.retiree)
    signed_in(world, centre)
    centre.fault("reject", count=1, after=3)  # the visit registers and uploads; its 2207 is refused
    client = CentreClient(centre.url, credentials=TRAINING)
    report = drain(world.db, client, policy=fast())
    assert (report.sent, report.parked) == (7, 1)
    for _ in range(3):
        assert drain(world.db, client, policy=fast()).sent == 0  # not retried
    parked = unsent(world.db, "parked")
    assert [(m.msgid, m.status) for m in parked] == [(bad.msgid, "parked")]
    assert "injected rejection" in parked[0].last_error
    assert [m.msgid for m in unsent(world.db, "pending")] == [behind.msgid]  # waits behind it
    release(world.db, world.actor("supervisor"), bad.msgid, "中心已修正")  # the supervisor sends it again
    assert drain(world.db, client, policy=fast()).sent == 2
    assert statuses(world) == {"sent": 9}


def test_the_centre_refusing_connections_for_a_while(world, centre):
    settle(world)
    centre.fault("refuse")  # refused from the moment the admin answers, until cleared
    report = drain(world.db, CentreClient(centre.url, credentials=TRAINING, timeout=1), policy=fast())
    assert report.retried == 1 and "ConnectError" in report.errors[0]
    assert centre.stats()["refusing"] is True
    centre.fault("none")
    assert drain(world.db, CentreClient(centre.url, credentials=TRAINING), policy=fast()).sent == 4


def test_the_admin_endpoints_want_the_token_and_listen_on_loopback_only(centre):
    assert httpx.get(f"{centre.admin_url}/_admin/stats").status_code == 401
    assert (
        httpx.get(f"{centre.admin_url}/_admin/stats", headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )
    assert centre.admin_url.startswith("http://127.0.0.1:")
    assert (
        httpx.post(f"{centre.url}/_admin/faults", json={"mode": "reject"}).status_code == 404
    )  # not on the API port


@pytest.mark.slow
def test_counter_killed_mid_drain_restarts_and_finishes_without_duplicates(world, centre, sqlite_url):
    for _ in range(100):  # 400 messages of one person: each chain goes in order
        settle(world)
    script = (
        "import sys; from counter_app.store import Database; from counter_app.sync.client import CentreClient;"
        "from counter_app.sync.outbox import drain; from counter_app.sync.gateway import Credentials;"
        f"drain(Database({sqlite_url!r}, migrate=False), CentreClient({centre.url!r}, "
        "credentials=Credentials('training', 'training-passtoken')), batch=50)"
    )
    signed_in(world, centre)
    centre.fault("hold", count=1, after=120)  # the 121st message waits: the drain is stuck there
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    centre.stats(held=1)  # the 121st message is held: the drain is stuck there
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    partly = statuses(world)
    # answers are written back a batch (50) at a time: two batches recorded; of the third, 20 were
    # answered but not recorded, the 21st sent and never heard back
    assert partly == {"sent": 100, "pending": 300}
    centre.fault("none")
    drain(world.db, CentreClient(centre.url, credentials=TRAINING), policy=fast())
    assert statuses(world) == {"sent": 400}
    stats = centre.stats()
    assert (
        stats["records"] == {"settle:settled": 100} and stats["duplicates"] >= 20
    )  # sent again, answered the same


def test_reconciliation_ties_and_names_what_differs(world, centre):
    a = settle(world)
    settle(world, person=world.retiree)
    svc.refund(world.db, world.ctx, a.setl_no, world.approval(a.setl_no), "x", now=NOW)
    client = CentreClient(centre.url, credentials=TRAINING)
    drain(world.db, client, policy=fast(), now=lambda: NOW)  # the refund reaches the centre that day
    report = reconcile_day(world.db, client, world.ctx.institution_code, NOW.date(), now=NOW)
    assert report.ties and [(r.insutype, r.count) for r in report.results] == [("310", 1), ("390", 2)]
    late = settle(world, person=world.retiree)  # made but not yet sent
    report = reconcile_day(
        world.db, client, world.ctx.institution_code, NOW.date(), now=NOW + dt.timedelta(seconds=1)
    )
    assert not report.ties
    [employee] = [r for r in report.results if r.insutype == "310"]
    assert [(d.setl_no, d.what) for d in employee.differences] == [
        (late.setl_no, "中心无此笔（未上传或被拒）")
    ]


def test_reversal_2601_of_a_message_whose_answer_was_lost(world, centre):
    done = settle(world)
    signed_in(world, centre)
    centre.fault("drop_after_commit", count=1, after=3)  # the 2207's answer is lost
    client = CentreClient(centre.url, credentials=TRAINING, timeout=5)
    drain(world.db, client, policy=fast())  # the centre has it; the counter does not know
    answer = reverse(world.db, client, done.msgid, now=NOW)
    assert answer["infcode"] == 0 and "已冲正" in answer["output"]["result"]
    assert centre.stats()["records"] == {"settle:reversed": 1}


def test_centre_validates_envelopes(centre):
    reply = httpx.post(f"{centre.url}/fsi/api", json={"infno": "2207"}, headers=sign(TRAINING)).json()
    assert reply["infcode"] == -1 and "报文缺少字段" in reply["err_msg"]


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap():
    policy, rng = RetryPolicy(base_seconds=2, cap_seconds=60, jitter=0.5), random.Random(1)
    for attempts, step in ((1, 2), (2, 4), (3, 8), (6, 60), (20, 60)):
        waits = [policy.delay(attempts, rng).total_seconds() for _ in range(50)]
        assert all(step * 0.5 <= w <= step for w in waits) and len(set(waits)) > 1


def test_the_gateway_refuses_unsigned_wrongly_signed_stale_and_replayed_requests(centre):
    import time as clock

    url, body = f"{centre.url}/fsi/api", {"infno": "9001"}

    def refusal(headers: dict) -> str:
        reply = httpx.post(url, json=body, headers=headers)
        assert reply.status_code == 401, reply.text
        return reply.json()["err_msg"]

    assert refusal({}).startswith("缺少网关签名头：x-tif-paasid")
    assert refusal(sign(Credentials(TRAINING_PAASID, "not-the-passtoken"))) == "签名不正确"
    assert refusal(sign(Credentials("someone-else", TRAINING_PASSTOKEN))) == "未知的 paasid：someone-else"
    assert refusal(sign(TRAINING, now=clock.time() - 3600)) == "时间戳与网关时间相差超过 300 秒"
    assert refusal(sign(TRAINING, now=clock.time() + 3600)) == "时间戳与网关时间相差超过 300 秒"
    once = sign(TRAINING)
    assert httpx.post(url, json=body, headers=once).status_code == 200
    assert refusal(once) == "nonce 已使用过（重放）"
    stats = centre.stats()
    assert stats["unsigned"] == 6 and stats["messages"] == 1  # refused at the gateway, before the platform


def test_a_message_refused_at_the_gateway_stays_queued_and_goes_once_signed(world, centre):
    done = settle(world)
    unsigned = drain(world.db, CentreClient(centre.url), policy=fast())
    wrong = drain(
        world.db, CentreClient(centre.url, credentials=Credentials(TRAINING_PAASID, "x")), policy=fast()
    )
    assert (unsigned.sent, wrong.sent) == (0, 0) and "网关拒绝（HTTP 401）：签名不正确" in wrong.errors[0]
    queued = [(m.infno, m.msgid) for m in unsent(world.db, "pending", per_message=True)]  # queued, not lost
    assert [i for i, _ in queued] == ["2201", "2203", "2204", "2207"] and queued[-1][1] == done.msgid
    assert drain(world.db, CentreClient(centre.url, credentials=TRAINING), policy=fast()).sent == 4
    assert centre.stats()["records"] == {"settle:settled": 1}


def test_a_parked_message_is_never_silent_and_a_supervisor_voids_it_with_a_reason(world, centre, capsys):
    from counter_app.cli import main
    from counter_app.services.actor import PermissionDenied
    from counter_app.services.sync_status import sync_status, void
    from counter_app.store.models import AuditEntry

    bad = settle(world)
    behind = settle(world)
    signed_in(world, centre)
    centre.fault("reject", count=1, after=3)  # the first visit's 2207
    client = CentreClient(centre.url, credentials=TRAINING)
    assert drain(world.db, client, policy=fast()).parked == 1
    status = sync_status(world.db)
    assert (status.parked, status.pending) == (
        1,
        1,
    ) and status.oldest_pending_at == NOW  # settlements, not messages
    assert status.overdue(NOW + dt.timedelta(minutes=31)) and not status.overdue(
        NOW + dt.timedelta(minutes=29)
    )
    url = world.db.url.render_as_string(hide_password=False)
    assert main(["sync", "--parked", "--db", url]) == 5
    out = capsys.readouterr().out
    assert (
        f"{bad.msgid} 2207 {bad.setl_no}" in out
        and "中心拒绝：injected rejection" in out
        and "1 parked" in out
    )
    with pytest.raises(PermissionDenied):
        void(world.db, world.ctx, bad.msgid, "中心已有此笔")  # a cashier may not
    with pytest.raises(ServiceError, match="请填写原因"):
        void(world.db, world.actor("supervisor"), bad.msgid, "  ")
    void(world.db, world.actor("supervisor"), bad.msgid, "中心已有此笔（电话核实）", now=NOW)
    assert drain(world.db, client, policy=fast()).sent == 4  # the person's later messages go on
    assert [m.msgid for m in unsent(world.db)] == [] and statuses(world) == {"sent": 7, "void": 1}
    assert main(["sync", "--parked", "--db", url]) == 0 and "0 parked" in capsys.readouterr().out
    with world.db.sessions() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "outbox_void"))
    assert entry.object == bad.msgid and "电话核实" in entry.detail and entry.staff_no == "supervisor1"
    assert behind.msgid != bad.msgid


def test_the_centre_refuses_a_repeated_line_and_a_settlement_of_an_unknown_visit(world, centre):
    """As the platform does: a feedetl_sn uploaded twice, and a 2207 naming a visit or charge batch
    it never registered, are refused with the reason (infcode -1)."""
    from counter_app.sync import fields as F
    from counter_app.sync import messages as M
    from counter_app.sync import wire

    settle(world)
    client = CentreClient(centre.url, credentials=TRAINING)
    assert drain(world.db, client, policy=fast()).sent == 4
    with world.db.sessions() as s:
        register, upload, settled = (
            s.scalar(select(Outbox).where(Outbox.infno == infno)) for infno in ("2201", "2204", "2207")
        )

    def envelope(infno: str, serial: int, input: dict) -> dict:
        return F.envelope(
            infno=infno,
            msgid=f"H34020200001{NOW:%Y%m%d%H%M%S}{serial:04d}",
            institution_code="H34020200001",
            institution_name="芜湖市第一人民医院",
            admdvs="340202",
            operator="cashier1",
            operator_name="张晓燕",
            at=NOW,
            input=input,
        )

    visit = dict(
        json.loads(register.payload), ipt_otp_no="H34020200001X"
    )  # a second visit, registered by hand
    mdtrt_id = client.send(envelope("2201", 9001, M.build("2201", visit, M.Ids())))["output"]["data"][
        "mdtrt_id"
    ]
    lines = M.build("2204", json.loads(upload.payload), M.Ids(mdtrt_id))
    assert client.send(envelope("2204", 9002, lines))["infcode"] == 0
    with pytest.raises(Rejected, match=r"费用明细流水号 .* 重复上传"):
        client.send(envelope("2204", 9003, lines))  # the same lines under a new msgid
    unknown = M.outpatient_settle(json.loads(settled.payload), "O999999", final=True)
    with pytest.raises(Rejected, match="就诊ID O999999 不存在"):
        client.send(envelope("2207", 9004, unknown))
    wrong_batch = M.outpatient_settle(
        dict(json.loads(settled.payload), chrg_bchno="NOPE"), mdtrt_id, final=True
    )
    with pytest.raises(Rejected, match="收费批次 NOPE 不存在"):
        client.send(envelope("2207", 9005, wrong_batch))
    assert wire.loads(settled.response)["infcode"] == 0 and centre.stats()["records"] == {"settle:settled": 1}


def _arrival_order_kept_per_person(world, centre) -> None:
    """Each person's messages reached the centre in the order they were queued (first arrivals)."""
    with world.db.sessions() as s:
        queued = s.execute(select(Outbox.msgid, Outbox.person_key).order_by(Outbox.id)).all()
    arrived: list[str] = []
    for request in centre.requests():
        if request.get("msgid") not in arrived and request.get("infno") != "9001":
            arrived.append(request["msgid"])
    assert sorted(arrived) == sorted(m for m, _ in queued)
    person_of = dict(queued)
    for person in set(person_of.values()):
        assert [m for m in arrived if person_of[m] == person] == [m for m, p in queued if p == person]


def test_several_persons_chains_in_flight_arrive_once_each_in_order(world, centre):
    people = (world.child, world.retiree, world.mother, world.father)
    done = [settle(world, person=people[n % 4]) for n in range(12)]
    svc.refund(world.db, world.ctx, done[1].setl_no, world.approval(done[1].setl_no), "退药", now=NOW)
    client = CentreClient(centre.url, credentials=TRAINING)
    report = drain(world.db, client, policy=fast(), in_flight=4, batch=10)
    assert (report.sent, report.parked, report.retried) == (49, 0, 0) and statuses(world) == {"sent": 49}
    stats = centre.stats()
    assert stats["records"] == {"settle:settled": 11, "settle:cancelled": 1, "cancel:settled": 1}
    assert stats["duplicates"] == 0 and stats["by_infno"]["9001"] == 1  # the cashier signed in once
    _arrival_order_kept_per_person(world, centre)
    with world.db.sessions() as s:  # the centre computed every split itself, and agrees
        assert s.scalars(select(CentreResult.equal)).all() == [True] * 12


def test_a_centre_failing_mid_drain_stops_every_chain_in_flight_and_the_rest_follow(world, centre):
    people = (world.child, world.retiree, world.mother, world.father)
    for n in range(8):
        settle(world, person=people[n % 4])
    signed_in(world, centre)
    centre.fault("error500", count=1, after=9)
    client = CentreClient(centre.url, credentials=TRAINING)
    first = drain(world.db, client, policy=fast(), in_flight=4)
    assert first.retried == 1 and 9 <= first.sent < 32  # the chains in flight finished their message
    rest = drain(world.db, client, policy=fast(), in_flight=4)
    assert first.sent + rest.sent == 32 and statuses(world) == {"sent": 32}
    assert centre.stats()["records"] == {"settle:settled": 8}
    _arrival_order_kept_per_person(world, centre)
