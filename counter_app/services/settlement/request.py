"""What a counter asks to settle (`ClaimRequest`, its `ClaimLine`s) and what it is answered (`Preview`,
`Settled`, `Refunded`, `SplitChanged`), with the lines as they go upstream (`FeeLine`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ...engine import SettlementResult
from ...engine.claim import Claim
from ...engine.money import ZERO
from ...store.models import (
    CatalogueItem,
)
from ..clinical import Visit
from ..errors import NotFound, ServiceError

MAX_QUANTITY = Decimal("9999")


@dataclass(frozen=True, slots=True)
class ClaimLine:
    code: str
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """What the cashier entered: who, what kind of visit, which catalogue items."""

    person_id: int
    lines: tuple[ClaimLine, ...]
    visit_date: dt.date
    med_type: str = "11"
    location: str = "local"
    prescribing_level: int | None = None
    use_own_account: bool = True
    use_family_account: bool = True
    cert_type: str = ""  # mdtrt_cert_type of what was scanned (lookup.Scanned); "" = by the ID number
    cert_no: str = ""
    dept_code: str = ""  # "" = the institution's default department (services/clinical.py)
    doctor_code: str = ""  # "" = the department's default doctor
    diagnoses: tuple[str, ...] = ()  # disease codes (1307/1309); a chronic visit (14) needs one
    visit: Visit | None = None  # the facts already settled on (an inpatient stay's, from admission)


@dataclass(frozen=True, slots=True)
class Preview:
    claim: Claim
    result: SettlementResult
    lines: tuple[
        FeeLine, ...
    ] = ()  # the claim's lines with quantity and unit price (an online 2206 needs them)
    visit: Visit | None = None  # department, doctor and diagnoses, defaults filled in

    @property
    def split(self) -> tuple[Any, ...]:
        return split_of(self.result)


@dataclass(frozen=True, slots=True)
class Settled:
    settlement_id: int
    setl_no: str
    settled_at: dt.datetime
    result: SettlementResult
    msgid: str


@dataclass(frozen=True, slots=True)
class Refunded:
    settlement_id: int
    setl_no: str
    reverses_setl_no: str
    settled_at: dt.datetime
    msgid: str
    reversed_entries: tuple[tuple[str, Decimal], ...] = field(default=())
    parts: list[tuple[str, Decimal]] = field(default_factory=list)  # how the cash part went back (negative)


class SplitChanged(ServiceError):
    """Balances moved since the preview: the cashier must show the new split and confirm again."""

    def __init__(self, preview: Preview) -> None:
        super().__init__("余额已变动（可能另一窗口已使用同一共济账户），请向参保人确认新的分摊后再结算")
        self.preview = preview


def split_of(result: SettlementResult) -> tuple[Any, ...]:
    """What the patient agreed to: fund, own account, each family account, cash."""
    return (
        result.medfee_sumamt,
        result.fund_pay_sumamt,
        result.own_acct_pay,
        tuple((d.psn_no, d.paid) for d in result.mulaid),
        result.psn_cash_pay,
    )


@dataclass(frozen=True, slots=True)
class FeeLine:
    """A claim line as it goes upstream (2204, 2301, 2102): quantity and unit price beside the amount."""

    code: str  # the hospital's (medins_list_codg)
    name: str
    kind: str
    cls: str
    quantity: Decimal
    price: Decimal
    amount: Decimal
    national_code: str = ""  # the platform's (med_list_codg)
    overlimit: Decimal = ZERO  # the part over the catalogue's price cap (超限价自付)


def checked_line(n: int, line: ClaimLine, cat: CatalogueItem | None) -> CatalogueItem:
    """Line `n`'s catalogue item, refused when the code is unknown or the quantity out of bounds
    (an insured claim and a self-pay visit take their lines alike)."""
    if cat is None:
        raise NotFound(f"第 {n} 行：目录中没有编码 {line.code}")
    if not ZERO < line.quantity <= MAX_QUANTITY:
        raise ServiceError(f"第 {n} 行：数量应大于 0 且不超过 {MAX_QUANTITY}（{line.quantity}）")
    return cat


INPATIENT_MED_TYPES = ("21", "52")
SELF_PAY = "self-pay"  # Settlement.policy of a self-pay visit (services/self_pay.py): never the centre's
