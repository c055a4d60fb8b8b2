"""Shared fixtures: real databases (a SQLite file; a fresh PostgreSQL database per test).

PostgreSQL is the one on this machine (127.0.0.1:5432, user postgres, trust), or COUNTER_APP_PG
(a server URL without a database name). Outside CI an unreachable server skips those tests with
the reason; in CI (CI=true) it fails them, so a green CI always means both databases ran.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt tests run on the offscreen platform unless told otherwise: a fresh machine has no display,
# and the README's test command must pass there as it is.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# One audit key for the whole run (and the processes it starts), never the machine's own: databases
# built by one test are read by the next (store/audit_key.py).
os.environ["COUNTER_APP_AUDIT_KEY"] = str(Path(tempfile.mkdtemp(prefix="counter-app-key-")) / "audit.key")

PG_SERVER = os.environ.get("COUNTER_APP_PG", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture(autouse=True)
def _own_settings_file(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test has its own (absent) settings file and log folder: none touches the machine's own."""
    path = tmp_path_factory.mktemp("config") / "counter.toml"
    monkeypatch.setenv("COUNTER_APP_CONFIG", str(path))
    monkeypatch.setenv("COUNTER_APP_LOG_DIR", str(path.parent / "logs"))  # nor the machine's log folder
    return path


def _pg_admin():
    import psycopg

    return psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def pg_available() -> None:
    try:
        with _pg_admin():
            pass
    except Exception as exc:  # noqa: BLE001
        message = f"PostgreSQL at {PG_SERVER} is not reachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the PostgreSQL tests)")
        pytest.skip(message)


@pytest.fixture
def pg_url(pg_available: None) -> Iterator[str]:
    name = f"counter_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'counter.sqlite3'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return request.getfixturevalue(name)


def _measured_slow() -> set[str]:
    """The tests tools/slow-tests measured at a second or more (tests/slow_tests.txt); with
    $COUNTER_APP_QUICK_LANE_ALL set (the tool measuring), none."""
    if os.environ.get("COUNTER_APP_QUICK_LANE_ALL"):
        return set()
    listed = Path(__file__).with_name("slow_tests.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in listed if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The quick lane (`-m "not slow"`) runs on SQLite: every PostgreSQL test counts as slow, so
    the lane still runs its SQLite twin, and so does every test measured at a second or more
    (tests/slow_tests.txt). The full suite (CI) runs them all."""
    measured = _measured_slow()
    for item in items:
        if item.get_closest_marker("postgres") or item.nodeid in measured:
            item.add_marker(pytest.mark.slow)


_exit_status: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _exit_status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's final garbage collection once pytest has said everything.

    PySide6 6.12 sometimes aborts there ("Fatal Python error: bool_dealloc ... Garbage-collecting",
    exit 134) after every test has passed and the summary is printed: a refcount bug in its C
    extension, not in our code. Exiting here keeps pytest's own exit status. Only when Qt was
    loaded, so a run without Qt tests ends normally."""
    import sys

    if "PySide6.QtWidgets" in sys.modules and _exit_status:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status[-1])
