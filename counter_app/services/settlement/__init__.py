"""Pre-settle, settle and refund: the counter's money, each in one transaction.

`preview` builds the claim from the store and runs the engine, writing nothing. `settle` does the
same again inside a transaction that holds the locks on every account it may touch, refuses if
the split differs from the preview the cashier confirmed (`SplitChanged` carries the new one), and
then writes the settlement, its ledger entries, the year totals and an outbox row together.
`refund` writes a reversal that mirrors all of that; the original is never edited or deleted.

One module a job: the request and its answers (request.py), the claim built from the store and
the preview (build.py), the settlement recorded (record.py), the refund (refund.py), the
institution's limits (limits.py).
"""

from .build import Built, _claim_from, _people, _people_at, _run_engine, build_claim, preview
from .limits import institution_label, pool_limits
from .record import _INSERT_SETTLEMENT, _audit_money, _mirror, _post, settle, settle_in
from .refund import (
    _refund_parts,
    drawer_covers,
    entered_lines,
    original_settlement,
    outpatient_original,
    refund,
    refund_asked,
    reverse_in,
)
from .request import (
    INPATIENT_MED_TYPES,
    MAX_QUANTITY,
    SELF_PAY,
    ClaimLine,
    ClaimRequest,
    FeeLine,
    Preview,
    Refunded,
    Settled,
    SplitChanged,
    checked_line,
    split_of,
)

__all__ = [
    "INPATIENT_MED_TYPES",
    "MAX_QUANTITY",
    "SELF_PAY",
    "_INSERT_SETTLEMENT",
    "Built",
    "ClaimLine",
    "ClaimRequest",
    "FeeLine",
    "Preview",
    "Refunded",
    "Settled",
    "SplitChanged",
    "_audit_money",
    "_claim_from",
    "_mirror",
    "_people",
    "_people_at",
    "_post",
    "_refund_parts",
    "_run_engine",
    "build_claim",
    "checked_line",
    "drawer_covers",
    "entered_lines",
    "institution_label",
    "original_settlement",
    "outpatient_original",
    "pool_limits",
    "preview",
    "refund",
    "refund_asked",
    "reverse_in",
    "settle",
    "settle_in",
    "split_of",
]
