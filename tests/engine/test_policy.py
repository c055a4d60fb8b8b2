"""Policy packs are data (WH-17): validated as a whole, chosen by effective date."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from counter_app.engine import PackError, pack_from_mapping, parse_claim, settle
from counter_app.policies import load_pack, load_pack_file, pack_ids, policy_dir

from .builders import claim, item


def raw(pack_id: str = "wuhu-2022") -> dict:
    return tomllib.loads((policy_dir() / f"{pack_id}.toml").read_text(encoding="utf-8"))


def test_shipped_packs_load():
    assert pack_ids() == ("hefei-2019", "wuhu-2022")
    wuhu = load_pack("wuhu-2022")
    period = wuhu.pool_for(dt.date(2024, 1, 1))
    assert (period.deductible.value, period.deductible.rule) == (800, "WH-15")
    assert (period.annual_cap.value, period.annual_cap.rule) == (2000, "WH-16")
    assert wuhu.effective_from == dt.date(2022, 7, 1) and wuhu.effective_rule == "WH-36"


def test_HF_6_binding_limits_are_hefei_data_and_wuhus_are_the_projects_decision():
    hefei = load_pack("hefei-2019").family
    assert dict(hefei.max_per_relation) == {"father": 1, "mother": 1, "spouse": 1, "child": 4}
    assert (hefei.max_total, hefei.limits_rule) == (7, "HF-6")
    wuhu = load_pack("wuhu-2022").family  # one spouse, father, mother; children and total not limited (99)
    assert dict(wuhu.max_per_relation) == {"father": 1, "mother": 1, "spouse": 1, "child": 99}
    assert (wuhu.max_total, wuhu.limits_rule) == (99, "WH-8 (2)")


def test_no_pack_invents_an_inpatient_ratio_or_hefei_pooling():
    assert load_pack("hefei-2019").outpatient_pool == ()
    assert "inpatient" not in raw("wuhu-2022") and "inpatient" not in raw("hefei-2019")


def test_WH_17_a_new_period_takes_over_from_its_effective_date():
    data = raw()
    later = dict(
        data["outpatient_pool"][0],
        effective_from=dt.date(2025, 1, 1),
        deductible={"value": "600.00", "rule": "WH-17"},
    )
    data["outpatient_pool"].append(later)
    pack = pack_from_mapping("wuhu-2022", data)
    for visit, met in (("2024-12-31", "800.00"), ("2025-01-01", "600.00")):
        c = parse_claim(claim(visit_date=visit, ytd={"year": int(visit[:4])}, items=[item(amount="1000.00")]))
        assert str(settle(c, pack).act_pay_dedc) == met


@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda d: d.pop("effective_from"), "policy pack wuhu-2022: effective_from: missing"),
        (
            lambda d: d["outpatient_pool"][0].update(deductible={"value": 800, "rule": "WH-15"}),
            'policy pack wuhu-2022: outpatient_pool[0].deductible.value: numbers are written as strings ("0.55"), got 800',
        ),
        (
            lambda d: d["outpatient_pool"][0]["ratio_in_service"].update({"2": "1.55"}),
            "policy pack wuhu-2022: outpatient_pool[0].ratio_in_service.2: 1.55 is outside [0, 1]",
        ),
        (
            lambda d: d["family"].update(scope="everything"),
            "policy pack wuhu-2022: family.scope: 'everything' is not one of policy_selfpay, personal_burden",
        ),
        (
            lambda d: d["outpatient_pool"][0].update(deductible={"value": "800.001", "rule": "WH-15"}),
            "policy pack wuhu-2022: outpatient_pool[0].deductible.value: money has at most two decimals, got 800.001",
        ),
        (
            lambda d: d["outpatient_pool"][0]["annual_cap"].pop("rule"),
            "policy pack wuhu-2022: outpatient_pool[0].annual_cap.rule: missing",
        ),
        (
            lambda d: d.update(id="hefei-2019"),
            "policy pack wuhu-2022: id: 'hefei-2019' does not match the file name 'wuhu-2022'",
        ),
    ],
)
def test_malformed_pack_is_refused_naming_the_key(edit, message):
    data = raw()
    edit(data)
    with pytest.raises(PackError) as err:
        pack_from_mapping("wuhu-2022", data)
    assert str(err.value) == message


def test_corrupt_or_missing_pack_file(tmp_path: Path):
    bad = tmp_path / "wuhu-2022.toml"
    bad.write_text("id = 'wuhu-2022'\n[family\n", encoding="utf-8")
    with pytest.raises(PackError, match=r"wuhu-2022.toml is not valid TOML"):
        load_pack_file(bad)
    with pytest.raises(PackError, match="no file"):
        load_pack_file(tmp_path / "nope.toml")
    with pytest.raises(PackError, match="unknown policy pack 'nope'"):
        load_pack("nope")
