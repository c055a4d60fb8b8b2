"""Counters through a real PgBouncer in transaction mode (issue 28): with `?pgbouncer=true` on the
database URL no cashier sees `DuplicatePreparedStatement`; without it, two counters sharing one
server connection do. Skipped, with the reason, where the pgbouncer program is not installed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from counter_app.services import settlement as svc
from counter_app.store import Database
from tests.actors import actor
from tests.services.world import AT, TODAY, build

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bouncer(pg_url):
    """A PgBouncer (transaction pooling, one server connection) in front of the test's database."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (Debian: apt install pgbouncer)")
    target = make_url(pg_url)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o777)  # PgBouncer runs as nobody when the tests run as root: its log and pid go here
    port = _free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{target.database} = host={target.host} port={target.port or 5432} dbname={target.database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = 1\n"
        f"max_client_conn = 50\nunix_socket_dir =\nlogfile = {folder / 'log.txt'}\n"
        f"pidfile = {folder / 'pid'}\n"
    )
    for path in folder.iterdir():
        path.chmod(0o666)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:  # wait until it accepts connections (a condition, not a fixed sleep)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"pgbouncer did not start: {process.stdout.read().decode()[:500]}"
                ) from None
    try:
        yield target.set(port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _settle_at_two_counters(url: str, world) -> None:
    """Two counters (two client connections) settling in turn through the one server connection."""
    first, second = Database(url), Database(url)
    try:
        counters = [(first, actor(first, "outpatient_cashier")), (second, actor(second, "supervisor"))]
        from decimal import Decimal

        from counter_app.services.errors import ServiceError
        from counter_app.services.shift import open_shift

        try:
            open_shift(second, counters[1][1], Decimal("0.00"))
        except ServiceError:
            pass  # open since the first round
        for n in range(24):  # psycopg prepares a query from its sixth run on each connection
            db, who = counters[n % 2]
            request = svc.ClaimRequest(world.retiree, (svc.ClaimLine("A001"),), TODAY)
            svc.settle(db, who, request, None, now=AT)
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_settles_through_pgbouncer_in_transaction_mode(pg_url, bouncer):
    world = build(pg_url)
    world.db.dispose()
    with pytest.raises(sa_exc.DBAPIError, match="prepared statement"):
        _settle_at_two_counters(bouncer, world)  # what the README's advice did before this option
    _settle_at_two_counters(bouncer + "?pgbouncer=true", world)
