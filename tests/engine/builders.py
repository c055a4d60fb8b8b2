"""Claim JSON for tests, in the contract's shape: a plain outpatient visit unless told otherwise."""

from __future__ import annotations

import copy
from typing import Any

from counter_app.claims import settle_data
from counter_app.engine import SettlementResult


def item(code: str = "X1", amount: str = "100.00", cls: str = "A", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"{code} 名称",
        "class": cls,
        "amount": amount,
        "account_payable": True,
        **extra,
    }


def provider(
    psn_no: str = "F0001", relation: str = "spouse", balance: str = "500.00", **extra: Any
) -> dict[str, Any]:
    return {
        "psn_no": psn_no,
        "relation": relation,
        "insutype": "310",
        "status": "normal",
        "account_balance": balance,
        **extra,
    }


def claim(
    *,
    items: list | None = None,
    family: list | None = None,
    person: dict | None = None,
    institution: dict | None = None,
    ytd: dict | None = None,
    **top: Any,
) -> dict[str, Any]:
    """A Wuhu general-outpatient claim at a level-3 hospital by an in-service employee."""
    data: dict[str, Any] = {
        "policy": "wuhu-2022",
        "visit_date": "2024-05-10",
        "med_type": "11",
        "institution": {"code": "H3402000001", "level": 3, "kind": "hospital", "designated": True},
        "prescribing_level": None,
        "location": "local",
        "person": {
            "psn_no": "P0001",
            "insutype": "310",
            "psn_type": "in_service",
            "retired_on": None,
            "status": "normal",
            "hospitalized": False,
            "account_balance": "0.00",
            "ytd": {"year": 2024, "deductible_paid": "0.00", "outpatient_pool_paid": "0.00"},
        },
        "family": family or [],
        "use_own_account": True,
        "use_family_account": True,
        "items": [item()] if items is None else items,
    }
    data["institution"].update(institution or {})
    data["person"]["ytd"].update(ytd or {})
    if isinstance(person, dict):
        data["person"].update(person)
    elif person is not None:  # a wrong shape on purpose, for bad-input tests
        data["person"] = person
    data.update(top)
    return copy.deepcopy(data)


def settle(**kwargs: Any) -> SettlementResult:
    return settle_data(claim(**kwargs))


def money(s: SettlementResult) -> dict[str, Any]:
    """The settlement's JSON, for comparing strings as the contract shows them."""
    return s.to_json()
