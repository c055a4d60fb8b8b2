"""A hospital's counters on one PostgreSQL at the morning peak: N processes, each a counter with
its own cashier and shift, settling a realistic mix against one database for a fixed number of
settlements each. A share of the patients draw on family accounts that other counters' patients
also draw on (the same providers), so counters contend for the same rows.

    python bench/counters.py [--counters 10 50 100] [--settles 40] [--persons 2000]
                             [--db postgresql://postgres@127.0.0.1:5432/counter_bench]

Prints, per N: throughput, settle latency p50/p99, the retries (a balance moved between preview and
settle: SplitChanged, shown to the cashier again), and errors that would reach a cashier. Then
checks that every balance equals its ledger and no account went below zero. Each counter holds
one connection (pool of 1 per process): N counters need N connections; the server's
`max_connections` (100 by default, a few reserved) caps N unless PgBouncer pools in transaction
mode (see README, "A hospital on one PostgreSQL").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/counter_bench"
PASSWORD = "bench-1234"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 if ordered else float("nan")


def fresh_database(url: str, persons: int, counters: int) -> list[str]:
    """Drop and create the bench database, fill it with demo data, add one cashier per counter;
    return the ID numbers of the patients the counters will see."""
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.engine import make_url

    from counter_app.services.demo import create_demo, demo_staff_row
    from counter_app.store import Database
    from counter_app.store.models import FamilyBinding, Person

    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()
    db = Database(url)
    create_demo(db, persons)
    with db.transaction() as s:
        for n in range(counters):
            s.add(demo_staff_row(f"b{n:03d}", f"收费员{n:03d}", "outpatient_cashier", PASSWORD))
    with db.sessions() as s:
        beneficiaries = [
            p.certno
            for p in s.scalars(
                select(Person)
                .join(FamilyBinding, FamilyBinding.beneficiary_id == Person.id)
                .where(Person.status == "normal")
            )
        ]
        others = [p.certno for p in s.scalars(select(Person).where(Person.status == "normal").limit(persons))]
    db.dispose()
    # a third of the visits by patients with bound providers (whose accounts other visits also draw on)
    return sorted(set(beneficiaries))[:200] + others[:600]


def counter(args: tuple) -> dict:
    """One counter: sign in, open the shift, settle `settles` visits; its timings and troubles."""
    url, n, settles, patients, barrier = args
    from sqlalchemy import select

    from counter_app.services import lookup
    from counter_app.services import settlement as svc
    from counter_app.services.errors import ServiceError
    from counter_app.services.shift import open_shift
    from counter_app.services.staff import sign_in
    from counter_app.store import Database
    from counter_app.store.models import CatalogueItem

    db = Database(url, migrate=False)  # one connection in use at a time: a counter does one thing at a time
    actor = sign_in(db, f"b{n:03d}", PASSWORD, "H34020200001", f"门诊{n:03d}")
    open_shift(db, actor, Decimal("100.00"))
    with db.sessions() as s:
        codes = list(s.scalars(select(CatalogueItem.code).where(CatalogueItem.cls != "C").limit(60)))
    rng = random.Random(n)
    barrier.wait()  # every counter signed in and ready: the morning peak starts for all at once
    released = time.time()
    latencies, retries, errors = [], 0, []
    today = dt.date.today()
    for _ in range(settles):
        with db.sessions() as s:
            person_id = lookup.find_person_id(s, rng.choice(patients))
        lines = tuple(svc.ClaimLine(code, Decimal(rng.choice((1, 1, 2)))) for code in rng.sample(codes, 3))
        request = svc.ClaimRequest(person_id, lines, today)
        shown = svc.preview(db, actor, request)
        while True:
            began = time.perf_counter()
            try:
                svc.settle(db, actor, request, shown)
            except svc.SplitChanged as changed:  # the cashier shows the new split and confirms again
                retries += 1
                shown = changed.preview
                continue
            except ServiceError as exc:
                errors.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - what would reach a cashier as 系统错误
                errors.append(f"{type(exc).__name__}: {exc}")
            latencies.append(time.perf_counter() - began)
            break
    finished = time.time()
    db.dispose()
    return {
        "latencies": latencies,
        "retries": retries,
        "errors": errors,
        "released": released,
        "finished": finished,
    }


def check(url: str) -> tuple[int, int]:
    """(accounts whose balance differs from its ledger, accounts below zero)."""
    from sqlalchemy import func, select

    from counter_app.store import Database
    from counter_app.store.models import Account, LedgerEntry

    db = Database(url, migrate=False)
    with db.sessions() as s:
        sums = dict(
            s.execute(
                select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
            ).all()
        )
        accounts = s.execute(select(Account.id, Account.balance)).all()
    db.dispose()
    wrong = sum(1 for aid, balance in accounts if Decimal(sums.get(aid) or 0) != balance)
    return wrong, sum(1 for _, balance in accounts if balance < 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=os.environ.get("COUNTER_APP_BENCH_PG", DEFAULT_DB))
    parser.add_argument("--counters", type=int, nargs="+", default=[2, 10, 50, 100])
    parser.add_argument("--settles", type=int, default=40)
    parser.add_argument("--persons", type=int, default=2000)
    parser.add_argument(
        "--pgbouncer",
        type=int,
        metavar="POOL",
        help="counters connect through a PgBouncer in transaction mode with POOL server connections",
    )
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.counters, args.settles, args.persons = [2, 4], 5, 60
    from sqlalchemy import create_engine, text

    with create_engine(args.db.rsplit("/", 1)[0] + "/postgres").connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
        f"PostgreSQL max_connections {limit}; {args.settles} settlements per counter; "
        f"date {dt.date.today()}"
    )
    results = {}
    floor: float | None = None  # the throughput at the first N (2 counters: the machine's two cores)
    bouncer, counters_url = None, args.db
    if args.pgbouncer:
        from tests import pgbouncer_process

        bouncer, through = pgbouncer_process.start(args.db, pool_size=args.pgbouncer, max_clients=1000)
        counters_url = through + "?pgbouncer=true"  # as the README advises
        limit = 1000  # PgBouncer's max_client_conn: the server sees only the pool
        print(f"through PgBouncer (transaction mode, {args.pgbouncer} server connections)")
    for n in args.counters:
        if n + 5 > limit:
            print(
                f"{n:>4} counters: skipped: needs about {n + 5} connections, the server allows {limit} "
                f"(raise max_connections, or pool through PgBouncer in transaction mode)"
            )
            continue
        patients = fresh_database(args.db, args.persons, n)
        context = mp.get_context("spawn")
        with context.Manager() as manager, context.Pool(n) as pool:
            barrier = manager.Barrier(n)
            outcome = pool.map(
                counter, [(counters_url, k, args.settles, patients, barrier) for k in range(n)]
            )
        # from the peak's start to the last counter's last settlement
        wall = max(o["finished"] for o in outcome) - min(o["released"] for o in outcome)
        latencies = [x for o in outcome for x in o["latencies"]]
        retries = sum(o["retries"] for o in outcome)
        errors = [e for o in outcome for e in o["errors"]]
        wrong, negative = check(args.db)
        results[n] = {
            "settlements": len(latencies),
            "p50_ms": pct(latencies, 0.5),
            "p99_ms": pct(latencies, 0.99),
            "retries": retries,
            "errors": len(errors),
            "ledger_mismatch": wrong,
            "negative": negative,
        }
        throughput = len(latencies) / wall
        floor = floor or throughput
        verdict = "met" if throughput >= 0.8 * floor else "not met"
        results[n]["throughput"] = throughput
        print(
            f"{n:>4} counters: throughput {throughput / floor:.2f}x the first N's "
            f"(aim >= 0.8 at 100: {verdict})"
        )
        print(
            f"{n:>4} counters: {len(latencies)} settlements; settle p50 {pct(latencies, 0.5):.1f} ms, "
            f"p99 {pct(latencies, 0.99):.1f} ms (aim at 100: p99 <= 50 ms); "
            f"throughput {len(latencies) / wall:.0f}/s over {wall:.1f} s; retries {retries}; "
            f"errors reaching a cashier {len(errors)}; balances off their ledger {wrong}; below zero {negative}"
            + (f"; first error: {errors[0][:160]}" if errors else "")
        )
    if bouncer is not None:
        bouncer.terminate()
        bouncer.wait()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
