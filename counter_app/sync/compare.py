"""The centre's settlement beside the counter's own: equal, or flagged with both splits.

The counter settles at once with its embedded engine; the centre computes the same settlement
with its own policy and catalogue when the message reaches it. Where they differ (a newer policy
at the centre, a line classed otherwise), nothing is overwritten: the difference is recorded for
a supervisor and listed in reconciliation.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from ..store.models import CentreResult, Outbox
from . import answers, hefei_names, wire
from . import fields as F


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, list[str]]:
    """{field: [ours, the centre's]} for every compared amount that is not equal."""
    out = {}
    for key in F.COMPARED_AMOUNTS:
        mine = Decimal(ours[key])
        other = theirs.get(key)
        try:
            value = answers.amount(other, key)
        except answers.AnswerError:
            value = None
        if value is None:  # null, "" or not a number: the centre did not give it
            if mine != 0 or other not in (None, ""):  # not given where the counter has none is no difference
                out[key] = [f"{mine:.2f}", "缺失" if other in (None, "") else str(other)[:20]]
            continue
        if value != mine:
            out[key] = [f"{mine:.2f}", f"{value:.2f}"]
    return out


def result_row(
    msg: Outbox,
    ours: dict[str, Any],
    answer: dict[str, Any],
    at: dt.datetime,
    profile: str = hefei_names.NATIONAL,
) -> CentreResult:
    setlinfo = answer.get("output", {}).get("setlinfo", {}) if isinstance(answer.get("output"), dict) else {}
    setlinfo = hefei_names.normalise(setlinfo, profile)
    diff = differences(ours, setlinfo)
    return CentreResult(
        settlement_id=msg.settlement_id,
        msgid=msg.msgid,
        mdtrt_id=str(setlinfo.get("mdtrt_id", "")),
        setl_id=str(setlinfo.get("setl_id", "")),
        equal=not diff,
        differences=json.dumps(diff, ensure_ascii=False),
        setlinfo=wire.dumps_text(setlinfo),
        received_at=at,
    )
