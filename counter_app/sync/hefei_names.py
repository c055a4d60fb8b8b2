"""HF-A: where a Hefei centre answers in its older interface names, the family-account (共济账户)
amount paid is in

- `akc262`: employees and city-level residents, outpatient and inpatient;
- `familyAccountMoney`: the four counties' and one city's residents, outpatient;
- `currFamilyEnableMoney`: the same residents, inpatient.

The national platform's name for it is `acct_mulaid_pay`. This module is the one place that reads
the older names, and only when the centre link's profile is "hefei-legacy".
"""

from __future__ import annotations

from typing import Any

from ..services.settlement import INPATIENT_MED_TYPES

NATIONAL, HEFEI_LEGACY = "national", "hefei-legacy"
PROFILES = (NATIONAL, HEFEI_LEGACY)
ACCT_MULAID_PAY = "acct_mulaid_pay"
EMPLOYEE_AND_CITY = "akc262"  # HF-A: employee, city-level resident; outpatient and inpatient
COUNTY_RESIDENT_OUTPATIENT = "familyAccountMoney"  # HF-A: four counties' and one city's residents
COUNTY_RESIDENT_INPATIENT = "currFamilyEnableMoney"  # HF-A: the same, inpatient
OLDER_NAMES = (EMPLOYEE_AND_CITY, COUNTY_RESIDENT_OUTPATIENT, COUNTY_RESIDENT_INPATIENT)


def family_amount_name(insutype: str, med_type: str, county_resident: bool) -> str:
    """Which older name a Hefei centre uses for this settlement (HF-A)."""
    if insutype == "390" and county_resident:
        return COUNTY_RESIDENT_INPATIENT if med_type in INPATIENT_MED_TYPES else COUNTY_RESIDENT_OUTPATIENT
    return EMPLOYEE_AND_CITY


def normalise(setlinfo: dict[str, Any], profile: str) -> dict[str, Any]:
    """The setlinfo with the family-account amount under `acct_mulaid_pay`. Under the national
    profile it is returned as it is; under "hefei-legacy" the first older name present is read
    into `acct_mulaid_pay` (a national name already there wins)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown centre profile {profile!r} (known: {', '.join(PROFILES)})")
    if profile == NATIONAL or ACCT_MULAID_PAY in setlinfo:
        return setlinfo
    for name in OLDER_NAMES:
        if name in setlinfo:
            return {**setlinfo, ACCT_MULAID_PAY: setlinfo[name]}
    return setlinfo
