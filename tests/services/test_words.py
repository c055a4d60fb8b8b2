"""What people read is Chinese, never a code (issue 27): a statement's relations, old notes included."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from counter_app.services import settlement as svc
from counter_app.services.statement import statement

from .world import AT, TODAY, build


def test_a_statement_names_relations_in_words_for_new_and_old_notes(sqlite_url):
    w = build(sqlite_url)
    svc.settle(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY), None, now=AT)
    with w.db.engine.begin() as conn:  # a note as written before issue 27
        conn.execute(text("UPDATE ledger_entry SET note = note || ' 张佳（mother）' WHERE kind = 'mulaid'"))
    agency = w.actor("agency_clerk")
    shown = statement(w.db, agency, w.certnos["mother"], dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    notes = " ".join(line.note for line in shown.lines)
    assert "张小明（母亲）" in notes and "张佳（母亲）" in notes  # whom the mother paid for, as whose mother
    assert "mother" not in notes and "child" not in notes
