"""Certify a pack before it goes live (issue 25 point 8): the shipped Wuhu pack against itself
changes nothing; with the level-3 in-service ratio 0.50 changed to 0.45 (the pack's ratio rule), exactly
the settlements the fund paid at that ratio change, each by the fund's difference, under the rule
that sets it; a class-C visit and a resident's are untouched. From the CLI: exit 0, then 1."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from counter_app.batch.certify import certify
from counter_app.cli import main
from counter_app.policies import load_pack, load_pack_file, policy_dir
from counter_app.services import settlement as svc

from ..services.world import AT, TODAY, build


def settle(w, pid, *lines):
    return svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(pid, tuple(svc.ClaimLine(c, D(n)) for c, n in lines), TODAY),
        None,
        now=AT,
    )


@pytest.fixture
def settled(db_url):
    w = build(db_url, mother_balance="5000.00")
    done = {
        "mother_big": settle(w, w.mother, ("A001", 12)),  # past the deductible: the fund pays at 0.50
        "mother_c": settle(w, w.mother, ("C001", 1)),  # class C only: no fund
        "child": settle(w, w.child, ("A001", 2)),  # a resident: no outpatient pooling
        "retiree": settle(w, w.retiree, ("A001", 3)),  # 0.50 + the retiree's 0.05
    }
    return w, done


def candidate(tmp_path):
    path = tmp_path / "wuhu-2022.toml"
    shipped = (policy_dir() / "wuhu-2022.toml").read_text(encoding="utf-8")
    assert '3 = "0.50"' in shipped
    path.write_text(shipped.replace('3 = "0.50"', '3 = "0.45"'), encoding="utf-8")
    return path


def test_the_shipped_pack_certifies_against_itself(settled):
    w, _ = settled
    report = certify(w.db, w.actor("agency_clerk"), load_pack("wuhu-2022"), TODAY, TODAY)
    assert report.replayed == 4 and report.unchanged and report.changes == []


def test_one_ratio_changed_lists_exactly_the_settlements_it_moves(settled, tmp_path):
    w, done = settled
    paid = {k: v.result.hifp_pay for k, v in done.items()}
    assert paid["mother_big"] > 0 and paid["retiree"] > 0 and paid["mother_c"] == paid["child"] == 0
    report = certify(w.db, w.actor("agency_clerk"), load_pack_file(candidate(tmp_path)), TODAY, TODAY)
    changed = {c.setl_no: c for c in report.changes}
    assert set(changed) == {done["mother_big"].setl_no, done["retiree"].setl_no}
    big = changed[done["mother_big"].setl_no]
    before, after = big.fields["hifp_pay"]
    assert before == paid["mother_big"] and after < before
    patient = sum(
        big.fields[k][1] - big.fields[k][0] for k in ("acct_pay", "psn_cash_pay") if k in big.fields
    )
    assert patient == before - after  # what the fund no longer pays, the patient does
    ratio_rule = load_pack("wuhu-2022").outpatient_pool[0].ratio_rule
    assert ratio_rule in big.rules and report.count_by_rule[ratio_rule] >= 1
    assert report.by_rule["WH-18"]["hifp_pay"] == sum(
        c.fields["hifp_pay"][1] - c.fields["hifp_pay"][0] for c in report.changes
    )
    assert report.replayed == 4 and not report.not_replayed


def test_certify_from_the_command_line(settled, tmp_path, capsys, monkeypatch):
    w, _ = settled
    from counter_app.services.staff import demo_staff_row

    with w.db.transaction() as s:
        s.add(demo_staff_row("j900", "审核员", "agency_clerk", "1234"))
    monkeypatch.setenv("COUNTER_APP_PASSWORD", "1234")
    url = w.db.url.render_as_string(hide_password=False)
    day = TODAY.isoformat()
    assert main(["certify", "wuhu-2022", "--from", day, "--to", day, "--db", url, "--by", "j900"]) == 0
    assert "4 replayed, 0 would change" in capsys.readouterr().out
    assert (
        main(["certify", str(candidate(tmp_path)), "--from", day, "--to", day, "--db", url, "--by", "j900"])
        == 1
    )
    out = capsys.readouterr().out
    assert "2 would change" in out and "hifp_pay" in out and "by rule WH-18" in out
    assert (
        main(["certify", "wuhu-2022", "--from", "2024-13-01", "--to", day, "--db", url, "--by", "j900"]) == 2
    )
    assert main(["certify", "nowhere-2030", "--from", day, "--to", day, "--db", url, "--by", "j900"]) == 2
    assert dt.date.fromisoformat(day) == TODAY
