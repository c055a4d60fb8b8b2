"""The agency's insured population from a file (issue 24): persons, enrolment, accounts with their
two pots, bindings; checked whole first; a re-import applies a death or a change of enrolment
through the services that end bindings (HF-2.2), and never overwrites a balance."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from counter_app import identity
from counter_app.engine.interest import CURRENT_KINDS
from counter_app.services import go_live as gl
from counter_app.services import population
from counter_app.services.actor import PermissionDenied
from counter_app.services.table_file import FileRefused
from counter_app.store.audit import verify
from counter_app.store.models import Account, FamilyBinding, LedgerEntry, Person

from .world import build

HEADER = tuple(names[0] for names in population.PERSON_COLUMNS.values())  # 人员编号 … 当年余额
AT = dt.datetime(2024, 5, 10, 10, 0)
MOTHER = identity.make("340202", dt.date(1970, 3, 4), 62)
SON = identity.make("340202", dt.date(1998, 8, 9), 31)
RETIREE = identity.make("340203", dt.date(1955, 1, 2), 55)


@pytest.fixture
def w(db_url):
    return build(db_url)


def people(tmp_path, rows, name="persons"):
    return gl.write_table(tmp_path, name, HEADER, rows)


def test_persons_accounts_and_bindings_load_with_two_pots(w, tmp_path):
    clerk = w.actor("agency_clerk")
    path = people(
        tmp_path,
        [
            ("P9001", MOTHER, "周慧", "310", "在职", "正常", "", "6000.00", "", "1200.00", "300.00"),
            ("P9002", SON, "周小川", "390", "", "", "", "", "", "", ""),
            ("P9003", RETIREE, "吴德", "310", "退休", "正常", "2015-01-31", "", "", "5000.00", "0"),
        ],
    )
    report = population.import_persons(w.db, clerk, path, as_of=AT.date(), now=AT)
    assert (report.added, report.changed) == (3, 0)
    binds = gl.write_table(
        tmp_path,
        "bindings",
        ("提供人身份证号", "受益人身份证号", "关系", "绑定日期"),
        [(MOTHER, SON, "子女", "2023-03-01")],
    )
    assert population.import_bindings(w.db, clerk, binds, now=AT).bindings_added == 1
    with w.db.sessions() as s:
        mother = s.scalar(select(Person).where(Person.psn_no == "P9001"))
        assert (mother.account.balance, mother.contribution_base) == (D("1500.00"), D("6000.00"))
        kinds = s.execute(
            select(LedgerEntry.kind, LedgerEntry.amount, LedgerEntry.created_at)
            .where(LedgerEntry.account_id == mother.account.id)
            .order_by(LedgerEntry.id)
        ).all()
        assert [(k, a) for k, a, _ in kinds] == [("opening", D("1200.00")), ("opening_current", D("300.00"))]
        assert (
            kinds[0].created_at < dt.datetime(2024, 1, 1) <= kinds[1].created_at
        )  # the carried pot, then this year's
        assert "opening_current" in CURRENT_KINDS
        assert (
            s.scalar(select(Account).join(Person).where(Person.psn_no == "P9002")) is None
        )  # a resident: no account
        assert (
            s.scalar(select(func.count()).select_from(FamilyBinding).where(FamilyBinding.ended_at.is_(None)))
            == 3
        )
        assert verify(s) == []  # the opening balances are in the audit chain


def test_a_bad_row_is_named_and_nothing_is_written(w, tmp_path):
    clerk = w.actor("agency_clerk")
    with w.db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(Person))
    path = people(
        tmp_path,
        [
            ("P9001", MOTHER, "周慧", "310", "在职", "正常", "", "", "", "10.00", ""),
            ("P9002", SON[:-1] + "0", "周小川", "390", "", "", "", "", "", "", ""),
            ("P9003", RETIREE, "吴德", "310", "退休", "正常", "", "", "", "", ""),
            (
                "P9004",
                identity.make("340202", dt.date(2001, 1, 1), 11),
                "钱",
                "390",
                "",
                "",
                "",
                "",
                "",
                "5.00",
                "",
            ),
        ],
    )
    with pytest.raises(FileRefused) as err:
        population.import_persons(w.db, clerk, path, now=AT)
    assert [p.split("（")[0] for p in err.value.problems] == ["第 3 行", "第 4 行", "第 5 行"]
    assert "退休人员须有退休日期" in str(err.value) and "只有职工医保" in str(err.value)
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == before
    with pytest.raises(PermissionDenied):
        population.import_persons(w.db, w.ctx, path, now=AT)


def test_a_reimport_records_a_death_and_a_transfer_and_ends_bindings(w, tmp_path):
    clerk = w.actor("agency_clerk")
    mother, father = w.certnos["mother"], w.certnos["father"]
    rows = [
        ("P0002", mother, "李芳", "310", "在职", "正常", "", "", "", "", ""),
        ("P0003", father, "张伟", "310", "在职", "正常", "", "", "", "", ""),
    ]
    first = population.import_persons(w.db, clerk, people(tmp_path, rows), now=AT)
    assert (first.added, first.unchanged, first.balance_differs) == (0, 2, [])
    rows[0] = ("P0002", mother, "李芳", "310", "在职", "正常", "", "", "2024-05-01", "", "")
    rows[1] = ("P0003", father, "张伟", "390", "在职", "正常", "", "", "", "", "")  # left employee insurance
    again = population.import_persons(w.db, clerk, people(tmp_path, rows, "again"), now=AT)
    assert (again.changed, again.deaths, again.bindings_ended) == (2, 1, 2)
    with w.db.sessions() as s:
        ended = s.scalars(
            select(FamilyBinding.ended_reason).where(FamilyBinding.beneficiary_id == w.child)
        ).all()
    assert all("HF-2.2" in r for r in ended) and len(ended) == 2


def test_a_balance_in_the_file_that_differs_from_the_ledger_is_reported_not_written(w, tmp_path):
    clerk = w.actor("agency_clerk")
    path = people(
        tmp_path, [("P0002", w.certnos["mother"], "李芳", "310", "在职", "正常", "", "", "", "999.00", "")]
    )
    report = population.import_persons(w.db, clerk, path, now=AT)
    assert report.balance_differs == ["P0002"]
    with w.db.sessions() as s:
        assert s.scalar(select(Account.balance).where(Account.person_id == w.mother)) == D("500.00")


def test_an_account_opened_before_go_live_keeps_its_date_and_a_binding_its_city(w, tmp_path):
    """开户日期 dates the account (crediting counts from it); 适用政策 names the city whose
    agreement a binding is (HF-1, WH-1; settlement draws only on its own city's or an unnamed one)."""
    clerk = w.actor("agency_clerk")
    path = people(
        tmp_path,
        [("P9001", MOTHER, "周慧", "310", "在职", "正常", "", "", "", "800.00", "", "2012-07-01")],
    )
    population.import_persons(w.db, clerk, path, as_of=AT.date(), now=AT)
    header = tuple(names[0] for names in population.BINDING_COLUMNS.values())
    other = identity.make("340202", dt.date(1999, 2, 3), 41)
    population.import_persons(
        w.db,
        clerk,
        people(tmp_path, [("P9002", other, "周二", "390", "", "", "", "", "", "", "")], "p2"),
        now=AT,
    )
    bad = gl.write_table(tmp_path, "bad", header, [(MOTHER, other, "子女", "", "南京")])
    with pytest.raises(FileRefused, match="适用政策“南京”"):
        population.import_bindings(w.db, clerk, bad, now=AT)
    good = gl.write_table(tmp_path, "good", header, [(MOTHER, other, "子女", "", "芜湖")])
    assert population.import_bindings(w.db, clerk, good, now=AT).bindings_added == 1
    with w.db.sessions() as s:
        mother = s.scalar(select(Person).where(Person.psn_no == "P9001"))
        assert mother.account.opened_on == dt.date(2012, 7, 1)
        binding = s.scalar(select(FamilyBinding).where(FamilyBinding.provider_id == mother.id))
        assert binding.policy == "wuhu-2022"


def test_an_import_covers_only_what_it_wrote_and_a_forged_row_stays_named(w, tmp_path):
    """A ledger row slipped in by SQL before an import is still named after it (issue 26): the
    import's audit entry covers the opening entries it wrote, not every row nothing covered."""
    from sqlalchemy import text

    with w.db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ledger_entry (account_id, amount, balance_after, kind, note, created_at) "
                "VALUES ((SELECT id FROM account WHERE person_id = :p), 1000, 1000, 'credit', 'gift', :t)"
            ),
            {"p": w.mother, "t": AT},
        )
    path = people(
        tmp_path, [("P9001", MOTHER, "周慧", "310", "在职", "正常", "", "6000.00", "", "1200.00", "300.00")]
    )
    population.import_persons(w.db, w.actor("agency_clerk"), path, as_of=AT.date(), now=AT)
    with w.db.sessions() as s:
        found = verify(s)
    assert [p.what for p in found if "ledger_entry rows" in p.what and "covered by no audit entry" in p.what]
    assert not [p for p in found if "P9001" in p.what]
