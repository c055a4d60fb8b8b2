"""Refunding some lines of a bill (退部分项目, issue 27).

The counter cannot change a settlement the centre holds: it cancels it (2208, queued as a refund
is) and settles the lines the patient keeps again as a new visit on the same date, in one
transaction under one supervisor approval. The accounts, the family accounts and the cash move by
the difference only, because both halves post in the same transaction; the refund's JSON names the
lines returned and the settlement that replaces it, the new one the settlement it replaces, so
both slips say what happened. Shift totals and the declaration see a refund and a settlement, as
they are. Self-pay and out-of-area bills are refunded whole and charged again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from ..engine.money import ZERO, fmt
from ..store import Database
from . import tenders
from .actor import Actor
from .clinical import visit_of
from .elsewhere import is_elsewhere
from .errors import RefundRefused
from .settlement import (
    SELF_PAY,
    ClaimLine,
    ClaimRequest,
    Refunded,
    Settled,
    drawer_covers,
    entered_lines,
    outpatient_original,
    refund_asked,
    reverse_in,
    settle_in,
)
from .staff import Approval


@dataclass(frozen=True)
class PartialRefund:
    refund: Refunded  # the whole original, reversed
    resettled: Settled  # the lines kept, settled again
    cash_back: Decimal  # the patient's own part handed back (negative: the patient pays more)
    returned: tuple[str, ...]  # the codes of the lines returned
    means: str  # how the difference moves, in words (现金, 银行卡, …)

    def describe(self) -> str:
        back = (
            f"应退{self.means} {fmt(self.cash_back)}"
            if self.cash_back >= 0
            else f"应补收{self.means} {fmt(-self.cash_back)}"
        )
        return (
            f"部分退费：退费 {self.refund.setl_no}（原 {self.refund.reverses_setl_no}），"
            f"保留项目重新结算 {self.resettled.setl_no}；{back}"
        )


def lines_of(result_json: str, claim_json: str) -> list[tuple[str, str, Decimal]]:
    """(code, name, quantity) of each line of a settlement, in the order they were entered."""
    return [
        (item["code"], item.get("name", item["code"]), Decimal(line["cnt"]) if line else Decimal(1))
        for item, line in entered_lines(json.loads(claim_json), json.loads(result_json))
    ]


def lines_for(db: Database, setl_no: str) -> list[tuple[str, str, Decimal]]:
    """The lines of settlement `setl_no`, for the refund dialog to pick from."""
    from sqlalchemy import select

    from ..store.models import Settlement

    with db.sessions() as session:
        row = session.execute(
            select(Settlement.result_json, Settlement.claim_json).where(Settlement.setl_no == setl_no)
        ).first()
    return lines_of(row.result_json, row.claim_json) if row else []


def refund_lines(
    db: Database,
    ctx: Actor,
    setl_no: str,
    approval: Approval,
    reason: str,
    returned: Sequence[int],
    *,
    now: dt.datetime | None = None,
) -> PartialRefund:
    """Return the lines at positions `returned` (0-based) of settlement `setl_no`, keep the rest."""
    approval = refund_asked(ctx, setl_no, approval, reason)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        state, orig = outpatient_original(session, ctx, setl_no)
        if orig.policy == SELF_PAY or is_elsewhere(orig.policy):
            raise RefundRefused(f"{setl_no} 是自费或异地结算：请全额退费后重新收费")
        lines = lines_of(orig.result_json, orig.claim_json)
        picked = sorted(set(returned))
        if not picked or any(not 0 <= n < len(lines) for n in picked):
            raise RefundRefused(f"请选择要退的项目（共 {len(lines)} 项）")
        if len(picked) == len(lines):
            raise RefundRefused("所有项目都退：请用全额退费")
        kept = [line for n, line in enumerate(lines) if n not in picked]
        if orig.person_id is None:
            raise RefundRefused(f"{setl_no} 没有参保人：请全额退费后重新收费")
        codes = tuple(lines[n][0] for n in picked)
        claim = json.loads(orig.claim_json)
        request = ClaimRequest(
            orig.person_id,
            tuple(ClaimLine(code, quantity) for code, _, quantity in kept),
            orig.visit_date,
            orig.med_type,
            location=claim.get("location", "local"),
            prescribing_level=claim.get("prescribing_level"),
            use_own_account=claim.get("use_own_account", True),
            use_family_account=claim.get("use_family_account", True),
            visit=visit_of(orig.visit_json),
        )
        tender = orig.tender if orig.tender in tenders.TENDERS else "cash"  # a mixed bill: the rest in cash
        refunded = reverse_in(
            session,
            ctx,
            state.institution,
            orig,
            approval,
            reason,
            at=at,
            upstream_cancel=True,
            state=state,
            check_drawer=False,
            extra_json={"partial": {"returned": list(codes)}},
        )
        again = settle_in(
            session,
            ctx,
            request,
            None,
            at=at,
            tender=tender,
            extra_json={"replaces": setl_no, "partial_refund": refunded.setl_no},
        )
        handed_back = -tenders.cash_in(refunded.parts)
        taken = again.result.psn_cash_pay if tender == "cash" else ZERO
        drawer_covers(session, state, handed_back - taken)
        cash_back = orig.psn_cash_pay - again.result.psn_cash_pay
    return PartialRefund(refunded, again, cash_back, codes, tenders.TENDERS[tender])
