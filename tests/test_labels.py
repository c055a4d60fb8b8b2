"""Screens and slips say in Chinese why pooling did not apply, keeping the rule id."""

from __future__ import annotations

import pytest

from counter_app.labels import mask_name, pooling_reason


@pytest.mark.parametrize(
    "reason,shown",
    [
        (
            "WH-22 (2): hospitalized, outpatient costs during a stay are not covered",
            "住院期间发生的门诊费用不纳入门诊共济（WH-22 (2)）",
        ),
        (
            "WH-22 (3): inpatient (21) is not paid by outpatient pooling; wuhu-2022 has no inpatient section, so no fund payment",
            "住院费用不纳入门诊共济（WH-22 (3)）；所用政策 wuhu-2022 无住院统筹支付规定，统筹基金不支付",
        ),
        (
            "hefei-2019: the policy has no outpatient pooling section, so no fund payment",
            "所用政策 hefei-2019 无门诊统筹支付规定，统筹基金不支付",
        ),
        (
            "hefei-2019: the policy has no inpatient section, so no fund payment",
            "所用政策 hefei-2019 无住院统筹支付规定，统筹基金不支付",
        ),
        ("WH-99: something new", "WH-99: something new"),  # unknown: the engine's own words, never nothing
    ],
)
def test_pooling_reasons(reason, shown):
    assert pooling_reason(reason, False) == shown


def test_masked_names():
    assert [mask_name(n) for n in ("李", "李芳", "王建国", "欧阳小明")] == ["李", "李*", "王*国", "欧**明"]
