"""Counters through a real PgBouncer in transaction mode (issue 28): with `?pgbouncer=true` on the
database URL no cashier sees `DuplicatePreparedStatement`; without it, two counters sharing one
server connection do. Skipped, with the reason, where the pgbouncer program is not installed."""

from __future__ import annotations

import pytest
from sqlalchemy import exc as sa_exc

from counter_app.services import settlement as svc
from counter_app.store import Database
from tests import pgbouncer_process
from tests.actors import actor
from tests.services.world import AT, TODAY, build


@pytest.fixture
def bouncer(pg_url):
    """A PgBouncer (transaction pooling, one server connection) in front of the test's database."""
    if pgbouncer_process.PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (Debian: apt install pgbouncer)")
    process, url = pgbouncer_process.start(pg_url, pool_size=1, max_clients=50)
    try:
        yield url
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
