"""The agency's population at go-live: 100,000 persons with accounts (two pots) from one CSV, on
SQLite and PostgreSQL, through services/population.py (every row checked, one transaction, the
opening balances adopted into the audit chain). Beside it, its floor in the same run: the same
persons inserted with one bare executemany. Then the same file again (changes nothing).

    python bench/population.py [--persons 100000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.catalogue import PG, floor
from counter_app import identity
from counter_app.services import go_live, population
from tests.actors import actor
from tests.services.world import build

HEADER = tuple(names[0] for names in population.PERSON_COLUMNS.values())  # 人员编号 … 当年余额


def rows(n: int) -> list[tuple[str, ...]]:
    out = []
    for k in range(n):
        born = dt.date(1950, 1, 1) + dt.timedelta(days=k % 18_000)
        certno = identity.make("340202", born, k // 18_000)  # unique by birth date and serial
        employee = k % 3 != 0
        out.append(
            (
                f"B{k:09d}",
                certno,
                f"参保人{k}",
                "310" if employee else "390",
                "退休" if employee and born.year < 1964 else "在职",
                "正常",
                "2024-01-31" if employee and born.year < 1964 else "",
                "6000.00" if employee else "",
                "",
                f"{k % 5000}.00" if employee else "",
                f"{k % 300}.50" if employee else "",
            )
        )
    return out


def run(url: str, n: int, folder: Path) -> list[tuple[str, str, str]]:
    w = build(url)
    clerk = actor(w.db, "agency_clerk")
    data = rows(n)
    if len({r[1] for r in data}) != n:
        raise SystemExit("generated ID numbers collide; change the generator")
    path = go_live.write_table(folder, f"persons_{n}", HEADER, data)
    start = time.perf_counter()
    report = population.import_persons(w.db, clerk, path, as_of=dt.date(2026, 12, 1))
    took = time.perf_counter() - start
    low = floor(w.db, [{"psn_no": r[0], "certno": r[1], "name": r[2], "insutype": r[3]} for r in data])
    out = [(f"{n:,} persons ({report.added:,} added)", f"{took:.1f} s", f"floor {low:.1f} s")]
    start = time.perf_counter()
    again = population.import_persons(w.db, clerk, path, as_of=dt.date(2026, 12, 1))
    out.append(
        ("the same file again", f"{time.perf_counter() - start:.1f} s", f"{again.unchanged:,} unchanged")
    )
    w.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.persons = 1_000
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {dt.date.today()}")
    import psycopg

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        name = f"bench_population_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        for url in (f"sqlite:///{folder / 'bench.sqlite3'}", f"{PG}/{name}"):
            print(f"\n{url.split('/')[0]}")
            for what, figure, beside in run(url, args.persons, folder):
                print(f"  {what:45s} {figure:>9s}   {beside}")


if __name__ == "__main__":
    main()
