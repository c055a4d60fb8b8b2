"""Schema: migrations from empty on both databases, and exact money columns."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from counter_app.store import Database, DatabaseError
from counter_app.store.models import Account, Person


def test_migrations_run_up_from_empty_and_are_idempotent(db_url):
    db = Database(db_url)
    assert db.current_revision() == db.head_revision() is not None
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "person",
        "account",
        "ledger_entry",
        "year_total",
        "family_binding",
        "settlement",
        "outbox",
    } <= tables
    db.upgrade()  # again: nothing to do, no error
    assert db.current_revision() == db.head_revision()


def test_sqlite_file_is_in_wal_mode(sqlite_url):
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def _account(db: Database, balance: Decimal) -> Decimal:
    with db.transaction() as s:
        s.add(Person(id=1, psn_no="P1", certno="1" * 18, name="甲", insutype="310", psn_type="in_service"))
        s.flush()
        s.add(Account(id=1, person_id=1, opened_on=dt.date(2020, 1, 1), balance=balance, version=0))
    with db.sessions() as s:
        return s.scalar(select(Account.balance))


@pytest.mark.parametrize("amount", ["123456789012.34", "0.01", "0.00", "99999.99"])
def test_money_round_trips_exactly(db_url, amount):
    assert _account(Database(db_url), Decimal(amount)) == Decimal(amount)


def test_money_refuses_floats_and_fractions_of_a_cent(sqlite_url):
    db = Database(sqlite_url)
    with pytest.raises(StatementError, match="money must be a Decimal, got float"):
        _account(db, 12.5)  # type: ignore[arg-type]
    with pytest.raises(StatementError, match="more than two decimals"):
        _account(db, Decimal("1.005"))


def test_negative_balance_is_refused_by_the_database(db_url):
    with pytest.raises(IntegrityError):
        _account(Database(db_url), Decimal("-0.01"))


def test_unusable_database_is_a_clear_error(tmp_path):
    corrupt = tmp_path / "broken.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="cannot open or upgrade the database"):
        Database(f"sqlite:///{corrupt}")
    assert corrupt.read_bytes() == b"this is not a database" * 100  # nothing written over it
    with pytest.raises(DatabaseError, match="unsupported database 'mysql'"):
        Database("mysql://nobody@localhost/x")


def test_migrations_match_the_models(db_url):
    """A model changed without a migration (or the reverse) shows up here, on both databases."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from counter_app.store.models import Base

    db = Database(db_url)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_newest_revision_by_file_name_is_alembics_head(sqlite_url):
    """The app skips alembic at start when the schema is current, judging "current" by the newest
    migration file's number: that must be alembic's own head."""
    from counter_app.store import Database
    from counter_app.store.db import newest_revision

    db = Database(sqlite_url)
    assert newest_revision() == db.head_revision() == db.current_revision()


def test_a_schema_newer_than_this_application_is_refused_not_misread(db_url):
    from sqlalchemy import text

    db = Database(db_url)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.dispose()
    with pytest.raises(DatabaseError, match="newer than this application"):
        Database(db_url)


@pytest.mark.postgres
def test_a_shared_postgresql_in_another_time_zone_is_said_at_start(pg_url):
    from sqlalchemy import text

    db = Database(pg_url)
    assert db.server_problems() == []  # this machine's server: UTF8, the same clock
    name = db.url.database
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone = 'Pacific/Kiritimati'"))  # UTC+14
    db.dispose()
    db = Database(pg_url)
    [problem] = db.server_problems(now=dt.datetime.utcnow())
    assert "differs from this counter's" in problem and "Kiritimati" in problem
    db.dispose()
