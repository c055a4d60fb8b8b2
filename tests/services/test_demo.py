"""The demo population is realistic and obeys the rules it will be settled under."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from counter_app import identity
from counter_app.services.demo import create_demo
from counter_app.services.ledger import mismatched_accounts
from counter_app.store import Database
from counter_app.store.models import Account, CatalogueItem, FamilyBinding, Person


def test_demo_population(db_url):
    db = Database(db_url)
    counts = create_demo(db, 400, seed=3)
    assert counts["persons"] >= 400
    with db.sessions() as s:
        people = s.scalars(select(Person)).all()
        assert all(identity.is_valid(p.certno) for p in people)
        kinds = Counter((p.insutype, p.psn_type) for p in people)
        assert (
            kinds[("310", "retired")]
            and kinds[("310", "flexible_pooling_only")]
            and kinds[("390", "in_service")]
        )
        assert any(p.status == "arrears" for p in people)
        assert not s.scalars(
            select(Account).join(Person).where(Person.psn_type == "flexible_pooling_only")
        ).all()  # WH-5
        per_provider = Counter((b.provider_id, b.relation) for b in s.scalars(select(FamilyBinding)))
        assert per_provider and max(n for (_, rel), n in per_provider.items() if rel != "child") == 1  # HF-6
        assert s.scalar(select(func.count()).select_from(CatalogueItem)) > 2000
        assert mismatched_accounts(s) == []
    with pytest.raises(ValueError, match="already holds"):
        create_demo(db, 10)
