"""Certify a policy pack before it goes live (issue 25 point 8): replay the stored settlements of a
period through the candidate pack and list every one whose split would change.

A settlement stores the claim exactly as the engine saw it (its people, balances and year totals
at that moment), so the replay is the same claim under the candidate pack: the difference is the
pack's and nothing else's. A stay's fund came from the centre (CENTRE_REASON): the replay keeps the
centre's fund as it was answered and re-splits only the personal part, as the counter did. Where
the centre's own answer was recorded (centre_result), the report says whether the candidate agrees
with it. Refunds are not replayed: each mirrors its settlement.

Each change names the rule ids whose trace notes differ between the stored and the replayed
settlement, and the summary adds the changes up per rule id. Nothing is written but the audit
entry of the run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from ..engine import ClaimError, PackError, PackNotInForce
from ..engine import settle as engine_settle
from ..engine.claim import parse_claim
from ..engine.money import ZERO, fmt
from ..engine.policy import PolicyPack
from ..engine.settlement import CENTRE_REASON, MONEY_FIELDS, CentreFund
from ..services.actor import Actor
from ..services.audit import record
from ..store import Database
from ..store.models import CentreResult, Settlement

SPLIT = ("hifp_pay", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
CHUNK = 2_000


@dataclass
class Change:
    setl_no: str
    visit_date: dt.date
    fields: dict[str, tuple[Decimal, Decimal]]  # field -> (stored, replayed)
    rules: tuple[str, ...]  # rule ids whose trace notes differ
    centre_agrees: bool | None = None  # the centre's recorded answer equals the replay (None: none recorded)


@dataclass
class Certification:
    pack: str
    version: str
    start: dt.date
    end: dt.date
    replayed: int = 0
    changes: list[Change] = field(default_factory=list)
    not_replayed: list[tuple[str, str]] = field(default_factory=list)  # (setl_no, why)
    by_rule: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # rule -> field -> total change
    count_by_rule: dict[str, int] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return not self.changes and not self.not_replayed

    def describe(self) -> str:
        lines = [
            f"certify {self.pack} {self.version}, settlements of {self.start} to {self.end}: "
            f"{self.replayed} replayed, {len(self.changes)} would change, {len(self.not_replayed)} not replayed"
        ]
        for c in self.changes:
            what = "; ".join(f"{k} {fmt(a)} -> {fmt(b)} ({_signed(b - a)})" for k, (a, b) in c.fields.items())
            centre = (
                ""
                if c.centre_agrees is None
                else ("; the centre agrees" if c.centre_agrees else "; the centre differs")
            )
            lines.append(
                f"  {c.setl_no} {c.visit_date}: {what} [{', '.join(c.rules) or 'no rule note changed'}]{centre}"
            )
        lines += [f"  {setl_no}: not replayed: {why}" for setl_no, why in self.not_replayed]
        for rule in sorted(self.by_rule):
            totals = ", ".join(f"{k} {_signed(v)}" for k, v in sorted(self.by_rule[rule].items()) if v)
            lines.append(
                f"  by rule {rule}: {self.count_by_rule[rule]} settlements; {totals or 'no amount moves'}"
            )
        return "\n".join(lines)


def _signed(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + fmt(amount)


def _centre_fund(stored: dict[str, Any]) -> CentreFund | None:
    pooling = stored.get("pooling") or {}
    if pooling.get("reason") != CENTRE_REASON:
        return None
    return CentreFund(
        Decimal(stored["hifp_pay"]),
        Decimal(stored["act_pay_dedc"]),
        Decimal(str(pooling.get("ratio") or "0")),
        str(pooling.get("reason")),
    )


RULE_ID = re.compile(r"^((?:WH|HF)-\d+(?: \(\d+\))?|decision \d+):")


def _reason_notes(reason: str) -> list[tuple[str, str]]:
    """The pooling decision's reason as (rule, note) pairs: "WH-14: …, WH-15 (1): level 3, in
    service 0.50" names each part's rule; a part without one belongs to the rule before it."""
    out: list[tuple[str, str]] = []
    rule = "pooling"
    for part in reason.split(", "):
        found = RULE_ID.match(part)
        if found:
            rule = found.group(1)
        out.append((rule, part))
    return out


def _rules_changed(before: list[dict[str, str]], after: list[tuple[str, str]]) -> tuple[str, ...]:
    old: dict[str, list[str]] = defaultdict(list)
    new: dict[str, list[str]] = defaultdict(list)
    for t in before:
        old[t["rule"]].append(t["note"])
    for rule, note in after:
        new[rule].append(note)
    return tuple(sorted(r for r in set(old) | set(new) if old.get(r) != new.get(r)))


def certify(db: Database, actor: Actor, pack: PolicyPack, start: dt.date, end: dt.date) -> Certification:
    """Replay the settlements under `pack.id` settled from `start` to `end` (both days included)."""
    actor.require("batch")
    if end < start:
        raise ValueError(f"--to {end} is before --from {start}")
    report = Certification(pack.id, pack.version, start, end)
    last_id = 0
    with db.sessions() as session:
        while True:
            rows = session.execute(
                select(Settlement, CentreResult)
                .outerjoin(CentreResult, CentreResult.settlement_id == Settlement.id)
                .where(
                    Settlement.id > last_id,
                    Settlement.kind == "settle",
                    Settlement.policy == pack.id,
                    Settlement.settled_at >= dt.datetime.combine(start, dt.time()),
                    Settlement.settled_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
                )
                .order_by(Settlement.id)
                .limit(CHUNK)
            ).all()
            if not rows:
                break
            for row, centre in rows:
                last_id = row.id
                _replay(report, pack, row, centre)
            session.expunge_all()
    with db.transaction() as session:
        record(
            session,
            actor,
            "certify",
            f"{pack.id} {pack.version} {start}..{end}",
            at=dt.datetime.now(),
            after={"replayed": report.replayed, "changes": len(report.changes)},
        )
    return report


def _replay(report: Certification, pack: PolicyPack, row: Settlement, centre: CentreResult | None) -> None:
    stored = json.loads(row.result_json)
    try:
        claim = parse_claim(json.loads(row.claim_json, parse_float=Decimal))
        replayed = engine_settle(claim, pack, _centre_fund(stored))
    except (ClaimError, PackNotInForce, PackError, ValueError) as exc:
        report.not_replayed.append((row.setl_no, str(exc)[:200]))
        return
    report.replayed += 1
    again = replayed.to_json()
    fields = {
        k: (Decimal(stored[k]), Decimal(again[k]))
        for k in MONEY_FIELDS
        if Decimal(stored[k]) != Decimal(again[k])
    }
    draws_before = [(m["psn_no"], m["paid"]) for m in stored.get("mulaid", [])]
    draws_after = [(m["psn_no"], m["paid"]) for m in again.get("mulaid", [])]
    if not fields and draws_before == draws_after:
        return
    was = [
        *stored.get("trace", []),
        *({"rule": r, "note": n} for r, n in _reason_notes(stored["pooling"]["reason"])),
    ]
    rules = _rules_changed(was, [*replayed.trace, *_reason_notes(again["pooling"]["reason"])])
    agrees = None
    if centre is not None:
        theirs = json.loads(centre.setlinfo)
        agrees = all(
            str(theirs.get(k)) in ("", "None") or Decimal(str(theirs[k])) == Decimal(again[k]) for k in SPLIT
        )
    report.changes.append(Change(row.setl_no, row.visit_date, fields, rules, agrees))
    for rule in rules or ("(none)",):
        report.count_by_rule[rule] = report.count_by_rule.get(rule, 0) + 1
        totals = report.by_rule.setdefault(rule, {})
        for k, (a, b) in fields.items():
            totals[k] = totals.get(k, ZERO) + (b - a)
