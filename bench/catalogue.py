"""Go-live loads at a hospital's size: a 50,000-row national catalogue with its class terms and a
50,000-item price list mapped to it, on SQLite and on PostgreSQL.

    python bench/catalogue.py [--rows 50000] [--db URL ...]

Each load goes through the service a hospital uses (services/national_catalogue.py,
services/price_list.py): read and check every row, one transaction, audited. Beside each, its
floor in the same run and database: the same rows inserted with one bare executemany into a
table of the same columns, nothing checked. Then the same files again (nothing changed: nothing
written but the version stamp), then a version where 1 % of the names changed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Column, MetaData, String, Table, insert

from counter_app.services import go_live, national_catalogue, price_list
from tests.actors import actor
from tests.services.world import build

PG = "postgresql://postgres@127.0.0.1:5432"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def floor(db, rows: list[dict]) -> float:
    """One executemany of the same rows into a bare table: what the database itself costs."""
    meta = MetaData()
    bare = Table(f"bench_floor_{len(rows)}", meta, *(Column(k, String(200)) for k in rows[0]))
    meta.create_all(db.engine)
    start = time.perf_counter()
    with db.transaction() as s:
        s.execute(insert(bare), rows)
    took = time.perf_counter() - start
    meta.drop_all(db.engine)
    return took


def run(url: str, n: int, folder: Path) -> list[tuple[str, str, str]]:
    w = build(url)
    boss = actor(w.db, "supervisor")
    items = [(f"XB{k:08d}A001010100000", f"国家目录药品{k}号 {k % 97}mg") for k in range(n)]
    download = national_catalogue.write_download(items)
    levels = ("01", "02", "03")
    terms = json.dumps(
        {
            "output": {
                "data": [
                    {
                        "hilist_code": code,
                        "chrgitm_lv": levels[k % 3],
                        "begndate": "2024-01-01",
                        "enddate": None,
                    }
                    for k, (code, _) in enumerate(items)
                ]
            }
        }
    )
    price = go_live.write_table(
        folder,
        f"price_list_{n}",
        ("医院项目编码", "项目名称", "规格", "单位", "单价", "国家医保编码"),
        [
            (f"H{k:07d}", name, "10片", "盒", f"{(k % 5000) / 10 + 1:.2f}", code)
            for k, (code, name) in enumerate(items)
        ],
    )
    out = []
    took, report = timed(lambda: national_catalogue.load_download(w.db, boss, "1301", "20250101", download))
    low = floor(w.db, [{"code": c, "name": m, "catalogue": "1301", "version": "20250101"} for c, m in items])
    out.append(
        (f"1301 catalogue, {n:,} rows ({report.added:,} added)", f"{took:.2f} s", f"floor {low:.2f} s")
    )
    took, report = timed(lambda: national_catalogue.load_download(w.db, boss, "1301", "20250101", download))
    out.append(("the same file again (changes nothing)", f"{took:.2f} s", f"{report.unchanged:,} unchanged"))
    changed = [(c, m + "（新）") if k % 100 == 0 else (c, m) for k, (c, m) in enumerate(items)]
    took, report = timed(
        lambda: national_catalogue.load_download(
            w.db, boss, "1301", "20250201", national_catalogue.write_download(changed)
        )
    )
    out.append(("a new version, 1 % renamed", f"{took:.2f} s", f"{report.changed:,} changed"))
    took, report = timed(lambda: national_catalogue.load_terms(w.db, boss, "1312", terms))
    out.append((f"1312 class terms, {n:,} records", f"{took:.2f} s", f"{report.added:,} added"))
    took, imported = timed(lambda: price_list.import_file(w.db, boss, price))
    low = floor(
        w.db, [{"code": f"H{k:07d}", "name": m, "national_code": c} for k, (c, m) in enumerate(items)]
    )
    out.append((f"price list, {n:,} rows, mapped", f"{took:.2f} s", f"floor {low:.2f} s"))
    took, imported = timed(lambda: price_list.import_file(w.db, boss, price))
    out.append(("the same price list again", f"{took:.2f} s", f"{imported.unchanged:,} unchanged"))
    took, report = timed(lambda: price_list.mapping_report(w.db, boss, dt.date(2025, 6, 1)))
    out.append(("the supervisor's mapping report", f"{took:.2f} s", f"{len(report)} problems"))
    w.db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--db", action="append", help="database URL (default: a new SQLite file and PostgreSQL)"
    )
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.rows = 500
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, {dt.date.today()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = args.db or [f"sqlite:///{folder / 'bench.sqlite3'}", "postgres"]
        for url in urls:
            if url == "postgres":
                import uuid

                import psycopg

                name = f"bench_catalogue_{uuid.uuid4().hex[:8]}"
                with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}"')
                url = f"{PG}/{name}"
            print(f"\n{url.split('/')[0]}")
            for what, figure, beside in run(url, args.rows, folder):
                print(f"  {what:45s} {figure:>9s}   {beside}")


if __name__ == "__main__":
    main()
