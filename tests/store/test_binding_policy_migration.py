"""Issue 25 point 7: a binding made before migration 0006 recorded no policy and paid under every
pack. Migration 0011 gives each the policy of its provider's place of insurance, and from then on a
binding pays only under its own: an old Hefei binding does not pay at a Wuhu counter."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from counter_app import identity
from counter_app.services import settlement as svc
from counter_app.store import Database
from counter_app.store.models import FamilyBinding

from ..services.world import TODAY, build

PEOPLE = [  # id, psn_no, certno, insutype, insuplc_admdvs
    (1, "P1", identity.make("340202", dt.date(1980, 1, 1), 11), "310", None),  # this region's own
    (2, "P2", identity.make("340104", dt.date(1981, 1, 1), 13), "310", "340104"),  # insured in Hefei
    (3, "P3", identity.make("340202", dt.date(2010, 1, 1), 22), "390", None),
]


def test_migration_0011_gives_each_old_binding_its_providers_place_policy(db_url):
    from alembic import command

    db = Database(db_url, migrate=False)
    cfg = db._alembic()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0010")
        conn.commit()
    with db.engine.begin() as conn:
        for iid, code, admdvs, policy in (
            (1, "H34020200001", "340202", "wuhu-2022"),
            (2, "H34010000001", "340100", "hefei-2019"),
        ):
            conn.execute(
                text(
                    "INSERT INTO institution (id, code, name, level, kind, designated, admdvs, policy) "
                    "VALUES (:i, :c, :c, 3, 'hospital', true, :a, :p)"
                ),
                {"i": iid, "c": code, "a": admdvs, "p": policy},
            )
        for pid, psn_no, certno, insutype, place in PEOPLE:
            conn.execute(
                text(
                    "INSERT INTO person (id, psn_no, certno, name, insutype, psn_type, status, hospitalized, "
                    "insuplc_admdvs) VALUES (:i, :n, :c, '某', :t, 'in_service', 'normal', false, :p)"
                ),
                {"i": pid, "n": psn_no, "c": certno, "t": insutype, "p": place},
            )
        for provider in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO family_binding (provider_id, beneficiary_id, relation, bound_at, "
                    "commitment_signed_at, commitment_sha256, clerk) "
                    "VALUES (:p, 3, 'child', '2021-01-01 09:00:00', '2021-01-01 09:00:00', :h, 'old')"
                ),
                {"p": provider, "h": "0" * 64},
            )
    db.upgrade()
    with db.sessions() as s:
        policies = dict(s.execute(select(FamilyBinding.provider_id, FamilyBinding.policy)).tuples().all())
    assert policies == {1: "wuhu-2022", 2: "hefei-2019"}
    db.dispose()


def test_a_binding_pays_only_under_its_own_policy(db_url):
    """The retiree is bound as the stranger's spouse under Hefei's pack: at the Wuhu counter that
    binding pays nothing; bound under Wuhu's, it pays (WH-8 (2))."""
    w = build(db_url)

    def bind(policy):
        with w.db.transaction() as s:
            s.add(
                FamilyBinding(
                    provider_id=w.retiree,
                    beneficiary_id=5,
                    relation="spouse",
                    bound_at=dt.datetime(2023, 1, 1),
                    commitment_signed_at=dt.datetime(2023, 1, 1),
                    commitment_sha256="0" * 64,
                    clerk="t",
                    policy=policy,
                )
            )

    def family_paid():
        done = svc.preview(w.db, w.ctx, svc.ClaimRequest(5, (svc.ClaimLine("A001"),) * 3, TODAY))
        return [m.psn_no for m in done.result.mulaid]

    bind("hefei-2019")
    assert family_paid() == []
    bind("wuhu-2022")
    assert family_paid() == ["P0004"]
