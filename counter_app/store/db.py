"""Opening the database: SQLite (WAL) by default, PostgreSQL by URL; migrations run on open.

On SQLite a writing transaction (`Database.transaction`) starts with BEGIN IMMEDIATE, so a writer
holds the write lock from its first read: two counters settling against the same family account
serialise instead of one failing at commit. Read-only sessions (`Database.sessions`) begin
deferred and never wait for writers (WAL). On PostgreSQL the services lock the rows they read
(SELECT ... FOR UPDATE).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(RuntimeError):
    """The database cannot be opened or used; the message says which and why."""


def default_url() -> str:
    folder = Path(platformdirs.user_data_dir("counter_app", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'counter.sqlite3'}"


def sqlite_url(path: Path | str) -> str:
    return f"sqlite:///{Path(path)}"


def _sqlite_engine(url: URL, begin: str) -> Engine:
    """An engine whose transactions start with `begin` ("BEGIN IMMEDIATE" for writers)."""
    # check_same_thread off: pooled connections are handed between the UI's worker thread and others
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")  # a committed settlement survives power loss
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(begin)

    return engine


def newest_revision() -> str:
    """The newest migration's revision id, from the file names: revisions are numbered as their
    files are (0001_…, 0002_…), a convention a test holds to alembic's own head."""
    return max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


class Database:
    """An engine and its sessions; `transaction()` is the unit every service works in."""

    def __init__(self, url: str | None = None, *, migrate: bool = True, create: bool = True) -> None:
        """`create=False`: a SQLite file that is not there is a DatabaseError naming it, instead of
        a new empty database (a mistyped path must not look like a counter with no data)."""
        try:
            self.url = make_url(url or default_url())
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's ArgumentError and ValueError alike
            raise DatabaseError(f"not a database URL: {url!r} ({exc})") from None
        if self.url.get_backend_name() == "sqlite":
            if self.url.database and self.url.database != ":memory:":
                path = Path(self.url.database)
                if not create and not path.exists():
                    raise DatabaseError(
                        f"no database at {path}: check the path, or create one with "
                        f"`counter-app db upgrade --db {self.url.render_as_string()}`"
                    )
                path.parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(self.url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(self.url, "BEGIN")  # WAL readers never wait for writers
        elif self.url.get_backend_name() == "postgresql":
            if self.url.drivername == "postgresql":
                self.url = self.url.set(drivername="postgresql+psycopg")
            query = dict(self.url.query)
            pooled = str(query.pop("pgbouncer", "")).lower() in ("1", "true", "yes", "on")
            self.url = self.url.set(query=query)
            # Behind PgBouncer in transaction mode a server connection serves many counters: psycopg's
            # prepared statements (made after 5 runs of a query) would collide there (issue 28)
            connect_args = {"prepare_threshold": None} if pooled else {}
            self.engine = create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)
            self.read_engine = self.engine
        else:
            raise DatabaseError(
                f"unsupported database {self.url.get_backend_name()!r}: use sqlite or postgresql"
            )
        self.sessions = sessionmaker(self.read_engine, expire_on_commit=False)  # reads: see transaction()
        self._writers = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.upgrade()
            self.check_key()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def describe(self) -> str:
        """For the status bar: the database without its password."""
        return self.url.render_as_string(hide_password=True)

    def _alembic(self) -> Config:
        from alembic.config import (
            Config,  # alembic loads only when the schema needs it (cold start)
        )

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        return cfg

    def _stored_revision(self) -> str | None:
        """The schema's revision by one plain SELECT (None: no schema yet, or unreadable)."""
        try:
            with self.engine.connect() as conn:
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:  # noqa: BLE001 - no table yet: the upgrade below says what is wrong, if anything
            return None

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (idempotent); when it is already there, one
        SELECT decides and alembic is not even imported. A schema newer than this application
        (another counter was upgraded first) is refused: this one would misread it."""
        stored = self._stored_revision()
        if stored == newest_revision():
            return
        if stored is not None and stored > newest_revision():
            raise DatabaseError(
                f"the database {self.describe()} is at schema {stored}, newer than this "
                f"application ({newest_revision()}): install the newer version on this counter"
            )
        from alembic import command

        cfg = self._alembic()
        try:
            with self.engine.connect() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
        except Exception as exc:
            raise DatabaseError(f"cannot open or upgrade the database {self.describe()}: {exc}") from exc

    def check_key(self) -> None:
        """Refuse a database this machine's audit key does not serve: every entry it appended would
        break the chain (store/audit_key.py)."""
        from . import audit

        with self.engine.connect() as conn:
            trouble = audit.key_problem(conn)
        if trouble:
            raise DatabaseError(f"{self.describe()}: {trouble}")

    def server_problems(self, now: dt.datetime | None = None) -> list[str]:
        """What a shared PostgreSQL should be and is not, said at start: UTF-8, and a clock in this
        counter's time zone (business days, shifts and the day close compare the two)."""
        if self.is_sqlite:
            return []
        problems = []
        with self.engine.connect() as conn:
            encoding = conn.execute(text("SHOW server_encoding")).scalar()
            server_now = conn.execute(text("SELECT LOCALTIMESTAMP")).scalar()
            zone = conn.execute(text("SHOW TimeZone")).scalar()
        if encoding != "UTF8":
            problems.append(
                f"PostgreSQL's encoding is {encoding}, not UTF8: Chinese names would not be stored"
            )
        if not isinstance(server_now, dt.datetime):
            return [*problems, f"PostgreSQL answered LOCALTIMESTAMP with {server_now!r}, not a time"]
        drift = abs(((now or dt.datetime.now()) - server_now).total_seconds())
        if drift > 300:
            problems.append(
                f"PostgreSQL's local time ({zone}) differs from this counter's by {drift / 60:.0f} "
                "minutes: set the server's (or the database's) timezone to the hospital's, and sync clocks"
            )
        return problems

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic()).get_current_head()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One atomic unit of work that writes: commits on success, rolls back on any exception.
        On SQLite it holds the write lock from its first statement (BEGIN IMMEDIATE)."""
        with self._writers() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()
