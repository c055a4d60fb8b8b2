"""The audit chain shows tampering done by raw SQL, on SQLite and PostgreSQL, and `counter-app
audit verify` says where: an edited ledger amount, a deleted audit entry, a forged one, an edited
approver, a ledger row slipped in."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from sqlalchemy import text

from counter_app.cli import main
from counter_app.services import settlement as svc
from counter_app.store.audit import verify
from tests.services.world import AT, TODAY, build


@pytest.fixture
def w(db_url):
    """A world with a family draw, a refund of it, a print, and sign-ins: a real chain."""
    world = build(db_url)
    done = svc.settle(
        world.db, world.ctx, svc.ClaimRequest(world.child, (svc.ClaimLine("A001"),), TODAY), None, now=AT
    )
    svc.refund(world.db, world.ctx, done.setl_no, world.approval(done.setl_no), "退药", now=AT)
    svc.settle(
        world.db, world.ctx, svc.ClaimRequest(world.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=AT
    )
    world.setl_no = done.setl_no
    return world


def problems(w) -> list:
    with w.db.sessions() as s:
        return verify(s)


def sql(w, statement: str, **params) -> None:
    with w.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def one(w, statement: str, **params):
    with w.db.engine.connect() as conn:
        return conn.execute(text(statement), params).scalar()


def test_an_untouched_chain_holds_and_the_cli_says_so(w, capsys):
    assert problems(w) == []
    assert main(["audit", "verify", "--db", str(w.db.url.render_as_string(hide_password=False))]) == 0
    assert "audit chain holds" in capsys.readouterr().out


def test_a_changed_ledger_amount_is_found(w, capsys):
    entry = one(w, "SELECT min(id) FROM ledger_entry WHERE kind = 'mulaid'")
    sql(w, "UPDATE ledger_entry SET amount = amount - 1 WHERE id = :i", i=entry)
    found = problems(w)
    assert found and "rows it wrote were changed or deleted (settle" in found[0].what
    assert f"ledger_entry {entry}" in found[0].what
    assert main(["audit", "verify", "--db", w.db.url.render_as_string(hide_password=False)]) == 1
    assert f"audit chain BROKEN at entry {found[0].entry_id}" in capsys.readouterr().err


def test_a_deleted_audit_entry_is_found(w):
    middle = one(w, "SELECT id FROM audit_entry WHERE action = 'refund_approval'")
    sql(w, "DELETE FROM audit_entry WHERE id = :i", i=middle)
    found = problems(w)
    assert found[0].entry_id == middle + 1 and "missing (deleted)" in found[0].what
    assert any("prev_hash does not match" in p.what for p in found)


def test_a_forged_audit_entry_is_found(w):
    last = one(w, "SELECT max(id) FROM audit_entry")
    prev = one(w, "SELECT hash FROM audit_entry WHERE id = :i", i=last)
    detail = json.dumps({"after": {"note": "all fine"}, "before": None}, separators=(",", ":"))
    sql(
        w,
        "INSERT INTO audit_entry (id, at, staff_no, counter, action, object, detail, prev_hash, hash) "
        "VALUES (:i, :at, 'supervisor1', '门诊1', 'settle', 'forged', :d, :p, :h)",
        i=last + 1,
        at=dt.datetime(2024, 5, 10, 12, 0),
        d=detail,
        p=prev,
        h=hashlib.sha256(b"guess").hexdigest(),
    )
    found = problems(w)
    assert [p.entry_id for p in found] == [last + 1] and "does not match its hash" in found[0].what


def test_an_edited_approver_is_found(w):
    sql(w, "UPDATE settlement SET approver = 'cashier1' WHERE kind = 'refund'")
    found = problems(w)
    assert len(found) == 1 and "rows it wrote were changed or deleted (refund" in found[0].what


def test_a_ledger_row_written_outside_the_application_is_found(w):
    account = one(w, "SELECT id FROM account WHERE person_id = :p", p=w.mother)
    sql(
        w,
        "INSERT INTO ledger_entry (account_id, amount, balance_after, kind, note, created_at) "
        "VALUES (:a, 10000, 10000, 'credit', 'gift', :t)",
        a=account,
        t=AT,
    )
    found = problems(w)
    assert (
        found[-1].entry_id is None
        and "ledger_entry rows" in found[-1].what
        and "covered by no audit entry" in found[-1].what
    )


def test_a_deleted_settlement_is_found(w):
    sql(w, "DELETE FROM outbox WHERE settlement_id = (SELECT max(id) FROM settlement)")
    sql(w, "DELETE FROM year_total WHERE settlement_id = (SELECT max(id) FROM settlement)")
    sql(w, "DELETE FROM ledger_entry WHERE settlement_id = (SELECT max(id) FROM settlement)")
    sql(w, "DELETE FROM settlement WHERE id = (SELECT max(id) FROM settlement)")
    found = problems(w)
    assert found and "rows it wrote were changed or deleted (settle" in found[0].what


def test_upgrading_a_database_from_before_the_chain_covers_its_rows_in_a_genesis_entry(db_url):
    """A hospital's database at revision 0004 (no audit chain) holds money rows; migrating to the
    newest revision links them into one genesis entry, so verify holds and later tampering shows."""
    from alembic import command

    from counter_app.store import Database

    db = Database(db_url, migrate=False)
    cfg = db._alembic()
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.commit()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO person (id, psn_no, certno, name, insutype, psn_type, status, hospitalized) "
                "VALUES (1, 'P1', '340202198506020446', '李芳', '310', 'in_service', 'normal', false)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO account (id, person_id, opened_on, balance, version) "
                "VALUES (1, 1, '2015-01-01', :b, 1)"
            ),
            {"b": 50000 if db.is_sqlite else 500},
        )
        conn.execute(
            text(
                "INSERT INTO ledger_entry (account_id, amount, balance_after, kind, note, created_at) "
                "VALUES (1, :a, :a, 'opening', 'opening', '2024-01-01 00:00:00')"
            ),
            {"a": 50000 if db.is_sqlite else 500},
        )
    db.upgrade()
    with db.sessions() as s:
        assert verify(s) == []
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_entry SET amount = amount + 1"))
    with db.sessions() as s:
        found = verify(s)
    assert found and found[0].entry_id == 1 and "(genesis" in found[0].what


# Issue 26: the rows that decide who pays, a chain nobody can recompute without the key, a cut tail.


def books_problems(w, anchor=None) -> list:
    from counter_app.services.audit import check_books

    with w.db.sessions() as s:
        return check_books(s, anchor=anchor)


def test_an_edited_balance_is_named(w):
    sql(w, "UPDATE account SET balance = balance + 100 WHERE person_id = :p", p=w.mother)
    found = books_problems(w)
    assert [p.what for p in found if "is not its ledger's" in p.what], found


def test_an_edited_binding_is_named(w):
    """Another provider, a relation, an ended binding brought back: each is a change no entry made."""
    binding = one(w, "SELECT min(id) FROM family_binding")
    sql(w, "UPDATE family_binding SET provider_id = :p WHERE id = :i", p=w.retiree, i=binding)
    found = problems(w)
    assert any(f"family_binding rows {binding} were changed after the entry" in p.what for p in found), found


def test_an_edited_staff_role_is_named(w):
    sql(w, "UPDATE staff SET role = 'supervisor' WHERE staff_no = 'cashier1'")
    found = problems(w)
    assert any("staff rows" in p.what and "were changed after the entry" in p.what for p in found), found


def test_a_staff_row_slipped_in_is_named(w):
    sql(
        w,
        "INSERT INTO staff (staff_no, name, role, password_hash, active, must_change_password, failed_signins) "
        "VALUES ('x1', '某某', 'supervisor', 'scrypt$00$00', true, false, 0)",
    )
    found = problems(w)
    assert any("staff rows" in p.what and "sealed by no audit entry" in p.what for p in found), found


def test_an_edited_outbox_payload_is_named(w):
    message = one(w, "SELECT max(id) FROM outbox")
    sql(w, "UPDATE outbox SET payload = replace(payload, '\"', '\"') || ' ' WHERE id = :i", i=message)
    found = problems(w)
    assert any(f"outbox rows {message} were changed after the entry" in p.what for p in found), found


def test_an_edited_price_list_is_named(w):
    sql(w, "UPDATE catalogue_item SET national_code = 'XA00000000' WHERE code = 'A001'")
    found = problems(w)
    assert any("catalogue_item was changed after the entry that last loaded it" in p.what for p in found), (
        found
    )


def test_an_edited_settlement_amount_is_named(w):
    sql(w, "UPDATE settlement SET acct_mulaid_pay = acct_mulaid_pay + 1 WHERE setl_no = :s", s=w.setl_no)
    found = problems(w)
    assert found and "rows it wrote were changed or deleted (settle" in found[0].what


def test_a_chain_recomputed_without_the_key_is_named(w):
    """Edit a settlement, then rewrite its entry's row digest and every hash after it the way anyone
    with only the database can: plain SHA-256. The key is not in the database, so the entries fail."""
    from counter_app.store import audit as chain

    sql(w, "UPDATE settlement SET acct_mulaid_pay = acct_mulaid_pay + 1 WHERE setl_no = :s", s=w.setl_no)
    with w.db.engine.begin() as conn:
        rows = conn.execute(text("SELECT * FROM audit_entry ORDER BY id")).mappings().all()
        prev = chain.GENESIS_PREV
        for r in rows:
            body = json.loads(r["detail"])
            if body.get("covers"):
                body["rows_sha256"] = chain.rows_digest(conn, body["covers"])
            detail = chain.canonical(body).decode()
            at = r["at"] if isinstance(r["at"], dt.datetime) else dt.datetime.fromisoformat(r["at"])
            digest = chain.entry_hash(
                r["id"], at, r["staff_no"], r["counter"], r["action"], r["object"], detail, prev
            )
            conn.execute(
                text("UPDATE audit_entry SET detail = :d, prev_hash = :p, hash = :h WHERE id = :i"),
                {"d": detail, "p": prev, "h": digest, "i": r["id"]},
            )
            prev = digest
    found = problems(w)
    assert found and all("does not match its hash" in p.what for p in found), found
    assert len(found) == len(rows)  # every keyed entry: not one checks out


def test_a_wrong_key_is_named_and_a_counter_with_it_is_refused(w, tmp_path, monkeypatch):
    from counter_app.store import Database, DatabaseError, audit_key

    monkeypatch.setenv(audit_key.ENV, str(tmp_path / "other.key"))
    audit_key.ensure()
    assert any("is not this database's" in p.what for p in problems(w))
    with pytest.raises(DatabaseError, match="is not this database's"):
        Database(w.db.url.render_as_string(hide_password=False))


def test_a_tail_cut_with_its_rows_shows_against_an_anchor_kept_outside(w, capsys):
    """Cut the newest entry and every row it wrote, balances put back: the chain alone still holds
    (what the anchor is for), and verify given the anchor from before names the cut."""
    from counter_app.store.audit import head

    with w.db.sessions() as s:
        anchor = head(s)
    last = one(w, "SELECT max(id) FROM settlement")
    with w.db.engine.begin() as conn:
        for account, amount in conn.execute(
            text("SELECT account_id, amount FROM ledger_entry WHERE settlement_id = :s"), {"s": last}
        ).all():
            conn.execute(
                text("UPDATE account SET balance = balance - :a WHERE id = :i"), {"a": amount, "i": account}
            )
        for table in ("outbox", "year_total", "ledger_entry", "slip_print"):
            conn.execute(text(f"DELETE FROM {table} WHERE settlement_id = :s"), {"s": last})
        conn.execute(text("DELETE FROM settlement WHERE id = :s"), {"s": last})
        conn.execute(text("DELETE FROM audit_seal WHERE entry_id = :e"), {"e": anchor[0]})
        conn.execute(text("DELETE FROM audit_entry WHERE id = :e"), {"e": anchor[0]})
    assert books_problems(w) == []  # cut cleanly: nothing inside the database shows it
    found = books_problems(w, anchor=(anchor[0], anchor[1][:32]))
    assert len(found) == 1 and f"entries {anchor[0]}..{anchor[0]} were cut off" in found[0].what
    url = w.db.url.render_as_string(hide_password=False)
    assert main(["audit", "verify", "--db", url, "--anchor", f"{anchor[0]}:{anchor[1][:32]}"]) == 1
    assert "were cut off" in capsys.readouterr().err
