"""The receipt of an agency batch run (`BatchRun`), and the error a batch refuses with."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from ..engine.money import ZERO, fmt
from ..services.actor import Actor
from ..services.audit import record
from ..store import Database
from ..store.models import Account, BatchRun


class BatchError(ValueError):
    """A batch that cannot run as asked (a month not begun, a year not ended, no rules); says why."""


@dataclass
class RunReport:
    """What one run did; `already` counts accounts an earlier run had done (idempotence)."""

    kind: str
    period: str
    policy: str
    run_id: int = 0
    posted: int = 0
    already: int = 0
    total: Decimal = ZERO
    by_source: defaultdict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))  # per source
    skipped: Counter[str] = field(default_factory=Counter)  # "rule: reason" -> accounts
    # what fell due for an account closed since (decision 11): never posted, to go with the transfer
    due_closed: list[tuple[str, Decimal]] = field(default_factory=list)  # (psn_no, amount)
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "period": self.period,
            "policy": self.policy,
            "posted": self.posted,
            "already": self.already,
            "total": fmt(self.total),
            "by_source": {k: fmt(v) for k, v in sorted(self.by_source.items())},
            "skipped": dict(sorted(self.skipped.items())),
            "due_to_closed_accounts": [{"psn_no": p, "amount": fmt(a)} for p, a in self.due_closed],
        }

    def describe(self) -> str:
        lines = [
            f"{self.kind} {self.period} ({self.policy}): posted {self.posted} entries, total {fmt(self.total)}; "
            f"{self.already} accounts already done by an earlier run"
        ]
        lines += [f"  from {source}: {fmt(amount)}" for source, amount in sorted(self.by_source.items())]
        lines += [f"  skipped {n}: {reason}" for reason, n in sorted(self.skipped.items())]
        if self.due_closed:
            total = sum((a for _, a in self.due_closed), ZERO)
            lines.append(
                f"  due to {len(self.due_closed)} accounts closed since, not posted (WH-10, decision 11), "
                f"total {fmt(total)}, to go with the transfer:"
            )
            lines += [f"    {p} {fmt(a)}" for p, a in self.due_closed]
        return "\n".join(lines)


def account_chunks(
    db: Database, query: Select[Any], progress: Callable[[int], None] | None = None
) -> Iterator[tuple[Session, Sequence[Row[Any]]]]:
    """Walk `query` (rows starting with Account.id, ordered by it, with a LIMIT) a chunk at a time,
    each chunk in its own writing transaction with its accounts locked: BEGIN IMMEDIATE on SQLite,
    FOR UPDATE on PostgreSQL. What the caller writes for a chunk commits with it; then
    `progress(accounts walked so far)` is told."""
    last_id, walked = 0, 0
    while True:
        with db.transaction() as session:
            q = query.where(Account.id > last_id)
            if not db.is_sqlite:
                q = q.with_for_update(of=Account)
            rows = session.execute(q).all()
            if not rows:
                return
            last_id = rows[-1][0]
            yield session, rows
        walked += len(rows)
        if progress:
            progress(walked)


def start_run(db: Database, actor: Actor, report: RunReport, at: dt.datetime) -> None:
    actor.require("batch")
    with db.transaction() as session:
        row = BatchRun(
            kind=report.kind,
            period=report.period,
            policy=report.policy,
            started_at=at,
            run_by=actor.staff_no,
            posted=0,
            already=0,
            skipped=0,
            total=ZERO,
        )
        session.add(row)
        session.flush()
        report.run_id, report.started_at = row.id, at
        record(session, actor, "batch_start", f"{report.kind} {report.period} run {row.id}", at=at)


def audit_chunk(
    session: Session,
    actor: Actor,
    report: RunReport,
    entries: list[dict[str, Any]],
    total: Decimal,
    at: dt.datetime,
) -> None:
    """The audit entry covering one chunk's ledger entries (as `ledger.post_batch` wrote them: hashed
    without reading them back), in the chunk's transaction."""
    if entries:
        record(
            session,
            actor,
            report.kind,
            f"{report.period} run {report.run_id}",
            at=at,
            after={"entries": len(entries), "total": fmt(total)},
            covers={"ledger_entry": [e["id"] for e in entries]},
            written={"ledger_entry": entries},
        )


def finish_run(db: Database, actor: Actor, report: RunReport, at: dt.datetime) -> None:
    with db.transaction() as session:
        row = session.get_one(BatchRun, report.run_id)
        row.finished_at, report.finished_at = at, at
        row.posted, row.already, row.skipped = report.posted, report.already, sum(report.skipped.values())
        row.total = report.total
        row.report_json = json.dumps(report.as_json(), ensure_ascii=False)
        record(
            session,
            actor,
            "batch_finish",
            f"{report.kind} {report.period} run {report.run_id}",
            at=at,
            after=report.as_json(),
        )


def recent_runs(db: Database, limit: int = 20) -> list[BatchRun]:
    with db.sessions() as session:
        return list(session.scalars(select(BatchRun).order_by(BatchRun.id.desc()).limit(limit)))
