"""Store latency: settle-and-commit against a bare one-row commit, and lookup at scale.

    python bench/store.py [--db URL] [--persons 1000000] [--settles 300]

Settle is the whole counter service (tests/services/test_statement_count.py pins its statements): read and lock the person and family accounts, run the
engine, write settlement, ledger entries, year totals and outbox, commit (SQLite: WAL,
synchronous=FULL). The baseline commits one small row through the same engine. Lookup finds a
person by resident ID number among --persons people, as a scan at the counter does, interleaved
with its floor: a bare primary-key SELECT through the same session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from counter_app import identity
from counter_app.services import lookup
from counter_app.services import settlement as svc
from counter_app.store.models import Person
from tests.services.world import TODAY, build


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--settles", type=int, default=300)
    args = parser.parse_args()
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    w = build(url, mother_balance="99999999.00")
    db, cashier = w.db, w.ctx
    req = svc.ClaimRequest(w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001")), TODAY)

    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_row (id INTEGER PRIMARY KEY, note VARCHAR(40))"))
    bare, settle = [], []
    for i in range(args.settles):  # interleaved, so both see the same machine state
        start = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_row (id, note) VALUES (:i, 'x')"), {"i": i})
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        svc.settle(db, cashier, req, None)
        settle.append(time.perf_counter() - start)

    rng = random.Random(1)
    born0 = dt.date(1940, 1, 1)
    certnos = []
    start = time.perf_counter()
    with db.transaction() as s:
        batch = []
        for n in range(args.persons):
            certno = identity.make("340202", born0 + dt.timedelta(days=n // 400), (n % 400) * 2 + 1)
            certnos.append(certno)
            batch.append(
                dict(
                    id=1000 + n,
                    psn_no=f"B{n:011d}",
                    certno=certno,
                    name="测试",
                    insutype="310",
                    psn_type="in_service",
                    status="normal",
                    hospitalized=False,
                )
            )
            if len(batch) == 20000:
                s.execute(insert(Person), batch)
                batch = []
        if batch:
            s.execute(insert(Person), batch)
    load = time.perf_counter() - start
    lookups, by_key = [], []
    with db.sessions() as s:
        s.execute(text("ANALYZE"))
        for certno in rng.sample(certnos, min(2000, len(certnos))):  # interleaved with the floor
            start = time.perf_counter()
            lookup.find_person_id(s, certno)
            lookups.append(time.perf_counter() - start)
            start = time.perf_counter()
            s.execute(
                text("SELECT id FROM person WHERE id = :i"), {"i": rng.randrange(1000, 1000 + args.persons)}
            )
            by_key.append(time.perf_counter() - start)

    print(f"machine: {platform.machine()}, {platform.python_version()}, database {db.engine.dialect.name}")
    print(
        f"bare commit of one row:   p50 {pct(bare, 50):7.2f} ms   p99 {pct(bare, 99):7.2f} ms  (n={len(bare)})"
    )
    print(
        f"settle and commit:        p50 {pct(settle, 50):7.2f} ms   p99 {pct(settle, 99):7.2f} ms  (n={len(settle)})"
    )
    print(
        f"ratio settle/bare:        p50 {pct(settle, 50) / pct(bare, 50):7.2f}x     "
        f"p99 {pct(settle, 99) / pct(bare, 99):7.2f}x  (aim: p99 within 3x)"
    )
    print(
        f"lookup by certno among {args.persons:,} persons: p50 {pct(lookups, 50):.3f} ms  "
        f"p99 {pct(lookups, 99):.3f} ms  mean {statistics.mean(lookups) * 1000:.3f} ms (aim: p99 <= 2 ms); "
        f"loaded in {load:.0f} s"
    )
    print(f"floor, a bare primary-key SELECT: p50 {pct(by_key, 50):.3f} ms  p99 {pct(by_key, 99):.3f} ms")


if __name__ == "__main__":
    main()
