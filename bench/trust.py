"""Trust figures (issue 26): what the keyed, sealed audit costs and what sign-in tells by its timing.

    python bench/trust.py [--db URL] [--settles 300] [--signins 30]

Settles --settles visits in a test world (each seals its four outbox messages in its entry), then
times `audit verify` over the whole chain (every entry's HMAC, covered rows, seals, catalogues and
balances against the ledger), a backup with its record, and the checked restore of that backup; and
times sign-in for a known staff id with a wrong password against an unknown id (both do one scrypt).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("COUNTER_APP_AUDIT_KEY", str(Path(tempfile.mkdtemp()) / "audit.key"))

from sqlalchemy import func, select

from counter_app.services import backup as bk
from counter_app.services import settlement as svc
from counter_app.services.audit import check_books
from counter_app.services.errors import ServiceError
from counter_app.services.staff import sign_in
from counter_app.store.models import AuditEntry
from tests.actors import PASSWORD
from tests.services.world import TODAY, build


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db")
    parser.add_argument("--settles", type=int, default=300)
    parser.add_argument("--signins", type=int, default=30)
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.settles, args.signins = 20, 3
    folder = Path(tempfile.mkdtemp())
    url = args.db or f"sqlite:///{folder / 'trust.sqlite3'}"
    w = build(url)
    at = dt.datetime(2024, 5, 10, 9, 0)
    supervisor = w.actor("supervisor")
    for n in range(args.settles):
        svc.settle(
            w.db,
            w.ctx,
            svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY),
            None,
            now=at + dt.timedelta(seconds=n),
        )
    with w.db.sessions() as s:
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
        started = time.perf_counter()
        problems = check_books(s)
        verify_s = time.perf_counter() - started
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {w.db.describe()}"
    )
    print(
        f"audit verify: {entries} entries in {verify_s:.2f} s ({entries / verify_s:,.0f} entries/s), {len(problems)} problems"
    )
    if w.db.is_sqlite:
        started = time.perf_counter()
        copy = bk.backup(w.db, folder / "backups", keep=3)
        backup_s = time.perf_counter() - started
        w.db.dispose()
        started = time.perf_counter()
        bk.restore(copy, url, supervisor)
        restore_s = time.perf_counter() - started
        size = copy.stat().st_size / 1e6
        print(f"backup with its record: {backup_s:.2f} s; checked restore: {restore_s:.2f} s ({size:.1f} MB)")
    known: list[float] = []
    unknown: list[float] = []
    for n in range(args.signins):
        if n % 4 == 0:  # a right password now and then: five wrong in a row would lock the id
            sign_in(w.db, "cashier1", PASSWORD, "H34020200001", "bench")
        for staff_no, into in (("cashier1", known), ("nobody-9", unknown)):
            started = time.perf_counter()
            try:
                sign_in(w.db, staff_no, "wrong-pass", "H34020200001", "bench")
            except ServiceError:
                pass
            into.append(time.perf_counter() - started)
    print(
        f"sign-in, wrong password: known id median {statistics.median(known) * 1000:.1f} ms, "
        f"unknown id median {statistics.median(unknown) * 1000:.1f} ms ({args.signins} each)"
    )


if __name__ == "__main__":
    main()
