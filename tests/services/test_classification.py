"""One classification of every account draw, everywhere (decision 8, WH-28): a property test over
random visits at a Wuhu and a Hefei counter, the self case of HF-2.1 among them. For every
settlement and refund, the engine's own-account and family parts equal the ledger entries by kind,
each family draw sits on the account of the person the engine named, and the month's declaration
classes the same amounts and ties."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from counter_app.batch.declaration import monthly_declaration
from counter_app.policies import load_pack
from counter_app.services import binding, enrolment
from counter_app.services import settlement as svc
from counter_app.services.errors import ServiceError
from counter_app.services.ledger import MULAID_KINDS
from counter_app.store.models import Account, LedgerEntry, Person

from .world import AT, TODAY, build, hefei_counter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build(f"sqlite:///{tmp_path_factory.mktemp('classes') / 'w.sqlite3'}", mother_balance="100000.00")
    clerk, stranger = w.actor("agency_clerk"), w.certnos["stranger"]
    enrolment.change_enrolment(w.db, clerk, 5, insutype="390", now=AT)  # the self case (HF-2.1)
    binding.bind(
        w.db,
        clerk,
        load_pack("hefei-2019"),
        binding.BindRequest(stranger, stranger, stranger, "self", True),
        tmp_path_factory.mktemp("proofs"),
    )
    return w, hefei_counter(w)


VISIT = st.tuples(
    st.sampled_from([1, 2, 3, 4, 5]),  # child, mother, father, retiree, the resident bound to herself
    st.lists(st.sampled_from(["A001", "B001", "C001"]), min_size=1, max_size=4),
    st.booleans(),  # use the own account
    st.booleans(),  # use family accounts
    st.booleans(),  # at the Hefei counter
    st.booleans(),  # refunded afterwards
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VISIT)
def test_every_draw_is_classed_alike_in_the_engine_the_ledger_and_the_declaration(world, visit):
    w, hefei = world
    pid, codes, own, family, at_hefei, refund = visit
    counter = hefei if at_hefei else w.ctx
    request = svc.ClaimRequest(
        pid, tuple(svc.ClaimLine(c) for c in codes), TODAY, use_own_account=own, use_family_account=family
    )
    try:
        done = svc.settle(w.db, counter, request, None, now=AT)
    except ServiceError:
        return  # refused with a reason (e.g. an account too small for a line): nothing to class
    result = done.result
    with w.db.sessions() as s:
        entries = s.execute(
            select(LedgerEntry.amount, LedgerEntry.kind, Person.psn_no)
            .join(Account, Account.id == LedgerEntry.account_id)
            .join(Person, Person.id == Account.person_id)
            .where(LedgerEntry.settlement_id == done.settlement_id)
        ).all()
        patient = s.get(Person, pid).psn_no
    family_sum = sum((-a for a, k, _ in entries if k in MULAID_KINDS), D("0"))
    own_sum = sum((-a for a, k, _ in entries if k not in MULAID_KINDS), D("0"))
    assert (own_sum, family_sum) == (result.own_acct_pay, result.acct_mulaid_pay)
    assert all(who == patient for a, k, who in entries if k not in MULAID_KINDS)
    drawn = {}
    for a, k, who in entries:
        if k in MULAID_KINDS:
            drawn[who] = drawn.get(who, D("0")) - a
    assert drawn == {m.psn_no: m.paid for m in result.mulaid}
    if refund:
        svc.refund(w.db, counter, done.setl_no, w.approval(done.setl_no, counter), "退药", now=AT)
    for code in (w.ctx.institution_code, hefei.institution_code):
        decl = monthly_declaration(w.db, w.actor("supervisor", institution=code), code, TODAY)
        assert decl.ties, (
            code,
            decl.ledger_own,
            decl.total.own_account,
            decl.ledger_family,
            decl.total.family_account,
        )
