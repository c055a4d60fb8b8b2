"""HF-2.2: bindings end in the same transaction as the event that ends them (death, leaving
employee insurance, transfer-out or closure of the account), with the reason on the binding and in
the audit log; a provider who is not drawable on the day (suspended) is skipped under the pack's
provider rule, and a provider who has died is never bound again."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from sqlalchemy import select

from counter_app.policies import load_pack
from counter_app.services import binding, enrolment
from counter_app.services import settlement as svc
from counter_app.services.errors import BindingRefused
from counter_app.store.models import AuditEntry, FamilyBinding, Person

from .world import AT, TODAY, build, hefei_counter

D = Decimal
DEATH = dt.date(2024, 5, 1)


def bindings_of(w, provider: int) -> list[FamilyBinding]:
    with w.db.sessions() as s:
        return list(s.scalars(select(FamilyBinding).where(FamilyBinding.provider_id == provider)))


def audit(w, action: str) -> AuditEntry:
    with w.db.sessions() as s:
        return s.scalar(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id.desc()))


def child_visit(w, code: str = "B001") -> svc.Settled:
    return svc.settle(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine(code),), TODAY), None, now=AT)


def test_HF_2_2_a_provider_who_dies_stops_paying_and_the_binding_ends_with_the_reason(db_url):
    w = build(db_url)
    clerk = w.actor("agency_clerk")
    ended = enrolment.record_death(w.db, clerk, w.mother, DEATH, now=AT)
    [mother] = bindings_of(w, w.mother)
    assert (
        ended == [mother.id]
        and mother.ended_at == AT
        and mother.ended_reason == "提供人于 2024-05-01 死亡（HF-2.2）"
    )
    entry = audit(w, "death")
    assert entry.staff_no == "agency1" and json.loads(entry.detail)["after"]["bindings_ended"] == [mother.id]
    done = child_visit(w)  # 200.00: the mother would have paid it all; only the father (300.00) may now
    assert [(d.psn_no, d.paid) for d in done.result.mulaid] == [("P0003", D("200.00"))]
    with pytest.raises(BindingRefused) as err:
        binding.bind(
            w.db,
            clerk,
            load_pack("hefei-2019"),
            binding.BindRequest(
                w.certnos["mother"], w.certnos["stranger"], w.certnos["stranger"], "spouse", True
            ),
            w.db_dir,
        )
    assert err.value.rule == "HF-2.2" and "死亡" in err.value.message


def test_HF_2_2_leaving_employee_insurance_ends_the_bindings_a_suspension_does_not(db_url):
    w = build(db_url)
    clerk = w.actor("agency_clerk")
    assert enrolment.change_enrolment(w.db, clerk, w.father, status="suspended", now=AT) == []
    assert bindings_of(w, w.father)[0].ended_at is None  # suspended (停保): bound still, not drawable today
    done = child_visit(w, "A001")  # 100.00: the mother pays; the father is skipped under the pack's rule
    assert [d.psn_no for d in done.result.mulaid] == ["P0002"]
    enrolment.change_enrolment(w.db, clerk, w.father, status="normal", now=AT)
    ended = enrolment.change_enrolment(w.db, clerk, w.mother, insutype="390", now=AT)
    [mother] = bindings_of(w, w.mother)
    assert ended == [mother.id] and mother.ended_reason == "提供人已不参加职工医保（改为 390，HF-2.2）"
    assert json.loads(audit(w, "enrolment_change").detail)["before"]["insutype"] == "310"
    with w.db.sessions() as s:
        assert s.get(Person, w.mother).insutype == "390"


def test_a_suspended_provider_is_skipped_under_the_packs_provider_rule_not_HF_2_2(db_url):
    w = build(db_url, mother_balance="0.00")
    enrolment.change_enrolment(w.db, w.actor("agency_clerk"), w.father, status="suspended", now=AT)
    pv = svc.preview(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY))
    assert ("WH-5", "P0003 (father) enrolment status suspended, not drawable, skipped") in pv.result.trace
    assert pv.result.acct_mulaid_pay == D("0.00")


def test_HF_2_2_transfer_out_ends_every_binding_of_the_provider_with_the_payout(db_url):
    w = build(db_url)
    assert binding.close_account(w.db, w.actor("agency_clerk"), w.father, "转出", now=AT) == 1
    [father] = bindings_of(w, w.father)
    assert father.ended_reason == "提供人账户转出（HF-2.2）"
    assert json.loads(audit(w, "account_close").detail)["after"]["bindings_ended"] == [father.id]


@pytest.fixture(autouse=True)
def _proof_dir(monkeypatch, tmp_path):
    from tests.services import world

    monkeypatch.setattr(world.World, "db_dir", tmp_path / "proofs", raising=False)


def test_WH_10_closing_pays_out_principal_and_the_interest_earned_up_to_the_closing_day(db_url):
    """The mother's 500.00 (carried into 2024) earns the 3-month rate, 1.10 %, on daily balances,
    annual rate / 360 (WH-11): 1 Jan to 30 Jun 2024 is 182 days, 500 x 182 x 0.011 / 360 = 2.78.
    The payout is principal and interest; the 2024 batch later finds the account done."""
    from counter_app.batch.interest import post_interest
    from counter_app.store.models import Account, LedgerEntry

    w = build(db_url)
    closing = dt.datetime(2024, 7, 1, 10, 0)
    binding.close_account(w.db, w.actor("agency_clerk"), w.mother, "提取", now=closing)
    with w.db.sessions() as s:
        entries = [
            (e.kind, e.amount, e.period, e.created_at)
            for e in s.scalars(
                select(LedgerEntry).where(LedgerEntry.account_id == w.mother).order_by(LedgerEntry.id)
            )
        ][1:]
        account = s.scalar(select(Account).where(Account.person_id == w.mother))
    assert entries == [("interest", D("2.78"), "2024", closing), ("withdrawal", D("-502.78"), None, closing)]
    assert (account.balance, account.closed_on) == (D("0.00"), closing.date())
    report = post_interest(w.db, w.actor("agency_clerk"), 2024, today=dt.date(2025, 1, 5))
    assert report.already == 1  # the closed account's 2024 interest went with the payout
    with w.db.sessions() as s:
        assert s.scalar(select(Account.balance).where(Account.person_id == w.mother)) == D("0.00")


def test_a_binding_pays_only_under_the_policy_it_was_made_under(db_url):
    """A binding records its pack: one made under Hefei's rules is not drawn at this Wuhu hospital."""
    w = build(db_url)
    clerk = w.actor("agency_clerk")
    binding.bind(
        w.db,
        clerk,
        load_pack("hefei-2019"),
        binding.BindRequest(
            w.certnos["retiree"], w.certnos["stranger"], w.certnos["stranger"], "child", True
        ),
        w.db_dir,
    )
    stranger = svc.ClaimRequest(5, (svc.ClaimLine("A001"),), TODAY)  # own account 50.00 of 100.00
    assert svc.preview(w.db, w.ctx, stranger).result.acct_mulaid_pay == D("0.00")
    with w.db.transaction() as s:  # the same binding as if made under the Wuhu pack
        s.scalar(select(FamilyBinding).where(FamilyBinding.beneficiary_id == 5)).policy = "wuhu-2022"
    assert svc.preview(w.db, w.ctx, stranger).result.acct_mulaid_pay == D("50.00")


def test_monitoring_lists_providers_bound_beyond_their_policys_limits(db_url):
    from counter_app.batch.monitoring import monitor_month
    from counter_app.store.models import FamilyBinding as FB

    w = build(db_url)
    with w.db.transaction() as s:  # two spouses under Wuhu's one (written before the limit was decided)
        for beneficiary in (4, 5):
            s.add(
                FB(
                    provider_id=w.father,
                    beneficiary_id=beneficiary,
                    relation="spouse",
                    bound_at=AT,
                    commitment_signed_at=AT,
                    commitment_sha256="0" * 64,
                    clerk="old",
                    policy="wuhu-2022",
                )
            )
    report = monitor_month(w.db, w.actor("agency_clerk"), dt.date(2024, 5, 1))
    assert [(o.psn_no, o.relation, o.count, o.limit, o.rule) for o in report.over_limit] == [
        ("P0003", "spouse", 2, 1, "WH-8 (2)")
    ]


def test_the_account_statement_adds_up_line_by_line_in_value_date_order(db_url, tmp_path):
    """April's credit is posted in May, after a May draw, but dated 1 April; the year's interest is
    posted in January, dated at the year's end. Read by value date, each line's balance is the one
    before it plus its amount, and the last is the account's balance."""
    import io

    from pypdf import PdfReader

    from counter_app.batch.crediting import credit_month
    from counter_app.batch.interest import post_interest
    from counter_app.printing.statement import statement_pdf
    from counter_app.services.actor import PermissionDenied
    from counter_app.services.statement import statement
    from counter_app.store.models import LedgerEntry

    w = build(db_url)
    with w.db.transaction() as s:
        s.get(Person, w.mother).contribution_base = D("6000.00")  # 2 % = 120.00 a month (WH-6)
    child_visit(w)  # 10 May: the mother pays 200.00 for the child
    clerk = w.actor("agency_clerk")
    credit_month(w.db, clerk, dt.date(2024, 4, 1), today=TODAY)  # posted now, dated 1 April
    post_interest(w.db, clerk, 2024, today=dt.date(2025, 1, 5))  # dated 31 December 2024
    with pytest.raises(PermissionDenied):
        statement(w.db, w.ctx, w.certnos["mother"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    s = statement(w.db, clerk, w.certnos["mother"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    assert [(line.kind, line.value_date.date()) for line in s.lines] == [
        ("opening", dt.date(2024, 1, 1)),
        ("credit", dt.date(2024, 4, 1)),
        ("mulaid", TODAY),
        ("interest", dt.date(2024, 12, 31)),
    ]
    running = s.brought_forward
    for line in s.lines:
        running += line.amount
        assert line.balance == running
    assert s.ties and s.closing == s.account_balance
    with w.db.sessions() as db:  # the stored posting-order balance of the credit is not the statement's
        credit = db.scalar(
            select(LedgerEntry).where(LedgerEntry.account_id == w.mother, LedgerEntry.kind == "credit")
        )
    assert credit.balance_after != s.lines[1].balance
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(statement_pdf(s))).pages).replace("\n", "")
    assert "个人账户明细" in text and "逐笔累计与账户余额一致" in text and str(s.closing) in text
    (tmp_path / "statement.pdf").write_bytes(statement_pdf(s))


def test_HF_2_1_a_resident_pays_their_own_costs_from_their_suspended_employee_account(db_url):
    """HF-2.1: 赵强 left employee insurance (停保) and is now a resident (390); his employee account
    (50.00) stays open. Bound to himself under Hefei's rules, it pays his own resident visit's
    policy-scope self-pay at a Hefei institution; Wuhu's pack has no such clause and refuses it."""

    w = build(db_url)
    clerk = w.actor("agency_clerk")
    stranger = w.certnos["stranger"]
    self_bind = binding.BindRequest(stranger, stranger, stranger, "self", True)
    with pytest.raises(BindingRefused) as err:  # still an employee: nothing to bind
        binding.bind(w.db, clerk, load_pack("hefei-2019"), self_bind, w.db_dir)
    assert err.value.rule == "HF-2.1"
    enrolment.change_enrolment(w.db, clerk, 5, insutype="390", now=AT)
    with pytest.raises(BindingRefused) as err:
        binding.bind(w.db, clerk, load_pack("wuhu-2022"), self_bind, w.db_dir)
    assert err.value.rule == "WH-5"
    with pytest.raises(BindingRefused) as err:  # "self" is only ever oneself
        binding.bind(
            w.db,
            clerk,
            load_pack("hefei-2019"),
            binding.BindRequest(w.certnos["retiree"], stranger, stranger, "self", True),
            w.db_dir,
        )
    assert err.value.rule == "HF-2.1"
    binding.bind(w.db, clerk, load_pack("hefei-2019"), self_bind, w.db_dir)
    hefei = hefei_counter(w)
    done = svc.settle(w.db, hefei, svc.ClaimRequest(5, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    [draw] = done.result.mulaid
    assert (draw.psn_no, draw.relation) == ("P0005", "self") and done.result.acct_mulaid_pay == draw.paid > 0
    assert any(rule == "HF-2.1" for rule, _ in done.result.trace)
    with w.db.sessions() as s:
        from counter_app.store.models import Account

        assert s.scalar(select(Account.balance).where(Account.person_id == 5)) == D("50.00") - draw.paid


def test_HF_2_1_decision_8_the_self_case_is_mutual_aid_everywhere_and_ends_on_re_employment(db_url):
    """Decision 8: the self draw is family mutual aid in the settlement, in its ledger entry and
    in the declaration (WH-28 ties), a refund keeps the class; a maternity patient may not bind
    to herself; re-employment (390 -> 310) ends the binding and the account pays as the person's own."""
    from counter_app.batch.declaration import monthly_declaration
    from counter_app.store.models import LedgerEntry

    w = build(db_url)
    clerk, stranger = w.actor("agency_clerk"), w.certnos["stranger"]
    self_bind = binding.BindRequest(stranger, stranger, stranger, "self", True)
    enrolment.change_enrolment(w.db, clerk, 5, insutype="510", now=AT)
    with pytest.raises(BindingRefused, match="城乡居民医保") as err:  # maternity is not the self case
        binding.bind(w.db, clerk, load_pack("hefei-2019"), self_bind, w.db_dir)
    assert err.value.rule == "HF-2.1"
    enrolment.change_enrolment(w.db, clerk, 5, insutype="390", now=AT)
    binding.bind(w.db, clerk, load_pack("hefei-2019"), self_bind, w.db_dir)
    hefei = hefei_counter(w)
    done = svc.settle(w.db, hefei, svc.ClaimRequest(5, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    paid = done.result.acct_mulaid_pay
    assert paid > 0 and done.result.own_acct_pay == 0
    with w.db.sessions() as s:
        kinds = list(
            s.scalars(select(LedgerEntry.kind).where(LedgerEntry.settlement_id == done.settlement_id))
        )
    assert kinds == ["mulaid"]  # on the patient's own account, classed as the settlement classes it
    boss = w.actor("supervisor", institution="H34010000001")
    decl = monthly_declaration(w.db, boss, "H34010000001", TODAY)
    assert decl.ties and (decl.ledger_family, decl.ledger_own) == (paid, D("0.00"))
    refund = svc.refund(w.db, hefei, done.setl_no, w.approval(done.setl_no, hefei), "退药", now=AT)
    with w.db.sessions() as s:
        kinds = list(
            s.scalars(select(LedgerEntry.kind).where(LedgerEntry.settlement_id == refund.settlement_id))
        )
    assert kinds == ["refund_mulaid"]
    assert monthly_declaration(w.db, boss, "H34010000001", TODAY).ties

    ended = enrolment.change_enrolment(w.db, clerk, 5, insutype="310", now=AT)
    with w.db.sessions() as s:
        ended_reason = s.scalar(select(FamilyBinding.ended_reason).where(FamilyBinding.id.in_(ended)))
    assert len(ended) == 1 and "决定 8" in ended_reason
    again = svc.settle(w.db, hefei, svc.ClaimRequest(5, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    assert again.result.acct_mulaid_pay == 0 and again.result.own_acct_pay > 0


def test_WH_10_decision_11_a_credit_due_to_an_account_closed_mid_month_is_reported_not_posted(db_url):
    """The mother's account is transferred out on the 15th; May's credit (6000 x 2 % = 120.00)
    falls due for it, but nothing is posted into a closed account: the run names it with its
    amount, to go with the transfer. The father's is credited as usual."""
    from counter_app.batch.crediting import credit_month
    from counter_app.store.models import Account, LedgerEntry

    w = build(db_url)
    with w.db.transaction() as s:
        for pid in (w.mother, w.father):
            s.get(Person, pid).contribution_base = D("6000.00")
    clerk = w.actor("agency_clerk")
    binding.close_account(w.db, clerk, w.mother, "转出", now=dt.datetime(2024, 5, 15, 10, 0))
    report = credit_month(w.db, clerk, dt.date(2024, 5, 1), today=dt.date(2024, 5, 20))
    with w.db.sessions() as s:
        credited = set(s.scalars(select(LedgerEntry.account_id).where(LedgerEntry.kind == "credit")))
        closed_balance = s.scalar(select(Account.balance).where(Account.person_id == w.mother))
    assert w.father in credited and w.mother not in credited and closed_balance == D("0.00")
    assert [(p, str(a)) for p, a in report.due_closed] == [("P0002", "120.00")]
    assert report.as_json()["due_to_closed_accounts"] == [{"psn_no": "P0002", "amount": "120.00"}]
    assert "P0002 120.00" in report.describe() and "decision 11" in report.describe()


def test_WH_7_2_decision_11_a_worker_moved_to_pooling_only_still_spends_the_balance(db_url):
    """The mother moves to pooling-only (WH-7 (2)): May is not credited, but her 500.00 stays
    hers and pays her own visit at the counter (WH-10, decision 11)."""
    from counter_app.batch.crediting import credit_month

    w = build(db_url)
    with w.db.transaction() as s:
        mother = s.get(Person, w.mother)
        mother.psn_type, mother.contribution_base = "flexible_pooling_only", D("6000.00")
    report = credit_month(w.db, w.actor("agency_clerk"), dt.date(2024, 5, 1), today=TODAY)
    assert any(reason.startswith("WH-7 (2)") for reason in report.skipped)
    done = svc.settle(w.db, w.ctx, svc.ClaimRequest(w.mother, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    assert done.result.own_acct_pay == D("100.00") and done.result.psn_cash_pay == 0


def test_WH_10_an_account_closed_on_the_first_of_a_month_is_not_credited_for_it(db_url):
    from counter_app.batch.crediting import credit_month
    from counter_app.store.models import LedgerEntry

    w = build(db_url)
    with w.db.transaction() as s:
        for pid in (w.mother, w.father):
            s.get(Person, pid).contribution_base = D("6000.00")
    clerk = w.actor("agency_clerk")
    binding.close_account(w.db, clerk, w.mother, "提取", now=dt.datetime(2024, 5, 1, 8, 0))
    report = credit_month(w.db, clerk, dt.date(2024, 5, 1), today=TODAY)
    with w.db.sessions() as s:
        credited = set(s.scalars(select(LedgerEntry.account_id).where(LedgerEntry.kind == "credit")))
    assert w.father in credited and w.mother not in credited
    assert any(reason.startswith("WH-10") for reason in report.skipped)
