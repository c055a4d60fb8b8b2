"""No statement of a settle or a refund walks a big table (issue 28), on PostgreSQL: each is
EXPLAINed as it was sent, with sequential scans priced out (enable_seqscan off), so a plan that
still reads person, credential, account or family_binding in full has no index it can use. On a
city's million insured such a plan costs seconds (the settle's first statement did: an OR that
PostgreSQL could only filter)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event

from counter_app.services import lookup
from counter_app.services import settlement as svc
from tests.services.world import AT, TODAY, build

BIG = (
    "person",
    "credential",
    "account",
    "family_binding",
    "ledger_entry",
    "year_total",
    "settlement",
    "outbox",
)


class Recorder:
    def __init__(self, engine) -> None:
        self.sent: list[tuple[str, object]] = []
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, parameters, _context, executemany) -> None:
        first = statement.split(None, 1)[0].upper()
        if first in ("SELECT", "UPDATE", "DELETE", "WITH") and not executemany:
            self.sent.append((statement, parameters))

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def _walks(node: dict) -> list[str]:
    """Plan nodes that read a big table whole: a sequential scan, or an index walked without a
    condition on it (what PostgreSQL does with an OR it can only filter)."""
    out = []
    table = node.get("Relation Name")
    kind = node.get("Node Type", "")
    if table in BIG and (
        kind == "Seq Scan" or (kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node)
    ):
        out.append(f"{kind} on {table}" + (f" (filter {node['Filter']})" if "Filter" in node else ""))
    for child in node.get("Plans", []):
        out += _walks(child)
    return out


def seq_scans(engine, sent) -> list[str]:
    """Each statement's plan nodes that read a big table whole."""
    found = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SET enable_seqscan = off")
        for statement, parameters in sent:
            cur.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plan = cur.fetchone()[0][0]["Plan"]
            found += [f"{' '.join(statement.split())[:140]}\n    {w}" for w in _walks(plan)]
        raw.rollback()
    finally:
        raw.close()
    return found


@pytest.mark.postgres
def test_no_statement_of_a_settle_a_refund_or_a_scan_reads_a_big_table_whole(pg_url):
    w = build(pg_url)
    request = svc.ClaimRequest(w.child, (svc.ClaimLine("A001", Decimal(6)), svc.ClaimLine("B001")), TODAY)
    recorder = Recorder(w.db.engine)
    try:
        done = svc.settle(w.db, w.ctx, request, None, now=AT)
        approval = w.approval(done.setl_no)
        svc.refund(w.db, w.ctx, done.setl_no, approval, "开错药", now=AT)
        with w.db.sessions() as session:
            lookup.find_person(session, w.certnos["mother"])  # a resident ID
            with pytest.raises(Exception):  # noqa: B017 - a card nobody holds: the lookup is what is seen
                lookup.find_person(session, "1000000000000000000000000000001")
    finally:
        recorder.close()
    assert len(recorder.sent) >= 5
    bad = seq_scans(w.db.engine, recorder.sent)
    assert not bad, "\n".join(bad)
