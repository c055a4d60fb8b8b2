"""Store latency: settle-and-commit against a bare one-row commit, and lookup at scale.

    python bench/store.py [--db URL] [--persons 1000000] [--settles 300]

The city is loaded first (--persons insured, each with a card and an e-voucher: twice as many
credentials), so every timing runs among them (issue 28: it used to settle in the five-person test
world before loading). Settle is the whole counter service (tests/services/test_statement_count.py
pins its statements): read and lock the person and family accounts, run the engine, write
settlement, ledger entries, year totals and outbox, commit (SQLite: WAL, synchronous=FULL). The
baseline commits one small row through the same engine. Lookup finds a person by resident ID
number, card and e-voucher, as scans at the counter do, interleaved with its floor: a bare
primary-key SELECT through the same session.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text

from counter_app import identity
from counter_app.services import lookup
from counter_app.services import settlement as svc
from counter_app.store.models import Credential, Person
from tests.services.world import TODAY, build


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


def load_city(db, persons: int) -> tuple[list[str], list[str], list[str]]:
    """`persons` insured with a card and an e-voucher each (two credentials a person), loaded before
    anything is timed, as a city's database holds them; returns their certnos, cards and vouchers."""
    born0 = dt.date(1940, 1, 1)
    certnos, cards, vouchers = [], [], []
    with db.transaction() as s:
        people, creds = [], []
        for n in range(persons):
            certno = identity.make("340202", born0 + dt.timedelta(days=n // 400), (n % 400) * 2 + 1)
            card, voucher = f"B{n:011d}", f"EV{n:018d}"
            certnos.append(certno)
            cards.append(card)
            vouchers.append(voucher)
            people.append(
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
            creds += [
                dict(person_id=1000 + n, kind="card", code=card),
                dict(person_id=1000 + n, kind="evoucher", code=voucher),
            ]
            if len(people) == 20000:
                s.execute(insert(Person), people)
                s.execute(insert(Credential), creds)
                people, creds = [], []
        if people:
            s.execute(insert(Person), people)
            s.execute(insert(Credential), creds)
    return certnos, cards, vouchers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp folder)")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--settles", type=int, default=300)
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.persons, args.settles = 2_000, 20
    url = args.db or f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    w = build(url, mother_balance="99999999.00")
    db, cashier = w.db, w.ctx
    start = time.perf_counter()
    certnos, cards, vouchers = load_city(db, args.persons)  # first: the settles run among them
    load = time.perf_counter() - start
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_row (id INTEGER PRIMARY KEY, note VARCHAR(40))"))
        conn.execute(text("ANALYZE"))
    req = svc.ClaimRequest(w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001")), TODAY)
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
    found: dict[str, list[float]] = {"certno": [], "card": [], "e-voucher": []}
    by_key: list[float] = []
    with db.sessions() as s:
        for n in rng.sample(range(len(certnos)), min(2000, len(certnos))):  # interleaved with the floor
            for what, scanned in (("certno", certnos[n]), ("card", cards[n]), ("e-voucher", vouchers[n])):
                start = time.perf_counter()
                lookup.find_person_id(s, scanned)
                found[what].append(time.perf_counter() - start)
            start = time.perf_counter()
            s.execute(
                text("SELECT id FROM person WHERE id = :i"), {"i": rng.randrange(1000, 1000 + args.persons)}
            )
            by_key.append(time.perf_counter() - start)

    print(f"machine: {platform.machine()}, {platform.python_version()}, database {db.engine.dialect.name}")
    print(
        f"{args.persons:,} persons and {2 * args.persons:,} credentials loaded in {load:.0f} s, before timing"
    )
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
    floor = pct(by_key, 99)
    print(f"floor, a bare primary-key SELECT: p50 {pct(by_key, 50):.3f} ms  p99 {floor:.3f} ms")
    for what, times in found.items():
        print(
            f"lookup by {what:9}: p50 {pct(times, 50):.3f} ms  p99 {pct(times, 99):.3f} ms  "
            f"= {pct(times, 99) / floor:.1f}x the floor (aim: p99 <= 2x)"
        )


if __name__ == "__main__":
    main()
