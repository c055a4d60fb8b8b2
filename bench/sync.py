"""Sync drain rate against the centre's own rate for the same messages.

    python bench/sync.py [--messages 100000]

One real settlement is made through the service; its settlement and outbox rows are then copied
--messages times (each with its own number and msgid) straight into the SQLite store. The
centre's own rate is the same envelopes sent by a bare keep-alive HTTP loop to a fresh centre; the
drain rate is `counter_app.sync.outbox.drain` emptying the outbox into another fresh centre
(reading rows, building envelopes, sending, writing results back). Ratio = drain / centre.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from counter_app.services import settlement as svc  # noqa: E402
from counter_app.store.models import Outbox, Settlement  # noqa: E402
from counter_app.sync.client import CentreClient  # noqa: E402
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials  # noqa: E402

TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
from counter_app.sync.outbox import Sender, drain  # noqa: E402
from tests.services.world import TODAY, build  # noqa: E402


def start_centre(folder: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "counter_app",
            "centre",
            "--port",
            "0",
            "--centre-db",
            str(folder / "centre.sqlite3"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    return proc, proc.stdout.readline().split()[3]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    n = parser.parse_args().messages
    tmp = Path(tempfile.mkdtemp())
    w = build(f"sqlite:///{tmp / 'counter.sqlite3'}", mother_balance="99999999.00")
    svc.settle(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY), None)
    with w.db.transaction() as s:
        row = s.scalar(select(Settlement))
        msg = s.scalar(select(Outbox))
        base = {c.name: getattr(row, c.key) for c in Settlement.__table__.columns if c.name != "id"}
        mbase = {c.name: getattr(msg, c.key) for c in Outbox.__table__.columns if c.name != "id"}
        now = dt.datetime(2024, 5, 10, 8, 0)
        for start in range(2, n + 1, 5000):
            chunk = range(start, min(n + 1, start + 5000))
            s.execute(
                insert(Settlement),
                [
                    dict(
                        base, id=i, setl_no=f"H34020200001{i:010d}", settled_at=now + dt.timedelta(seconds=i)
                    )
                    for i in chunk
                ],
            )
            s.execute(
                insert(Outbox),
                [
                    dict(
                        mbase,
                        settlement_id=i,
                        person_key=f"P{i % 997}",
                        msgid=f"H34020200001{now + dt.timedelta(seconds=i // 10000):%Y%m%d%H%M%S}"
                        f"{i % 10000:04d}",
                        payload=msg.payload.replace(row.setl_no, f"H34020200001{i:010d}"),
                    )
                    for i in chunk
                ],
            )
    with w.db.sessions() as s:
        sender = Sender(w.db, CentreClient("http://unused"))
        envelopes = [
            sender.envelope(s, m, st, now)
            for m, st in s.execute(
                select(Outbox, Settlement)
                .join(Settlement, Settlement.id == Outbox.settlement_id)
                .order_by(Outbox.id)
            )
        ]

    (tmp / "raw").mkdir()
    proc, url = start_centre(tmp / "raw")
    try:
        client = CentreClient(url, credentials=TRAINING)
        start = time.perf_counter()
        for envelope in envelopes:
            client.send(envelope)
        raw = n / (time.perf_counter() - start)
    finally:
        proc.terminate()
    (tmp / "drain").mkdir()
    proc, url = start_centre(tmp / "drain")
    try:
        start = time.perf_counter()
        report = drain(w.db, CentreClient(url, credentials=TRAINING), batch=500)
        rate = report.sent / (time.perf_counter() - start)
    finally:
        proc.terminate()
    assert report.sent == n, report
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, SQLite store, centre on loopback"
    )
    print(f"messages: {n:,}")
    print(f"centre's own rate (bare keep-alive loop): {raw:8,.0f} msg/s")
    print(f"drain rate (outbox -> centre, results written back): {rate:8,.0f} msg/s")
    print(f"ratio drain/centre: {rate / raw:.2f} (aim >= 0.8)")


if __name__ == "__main__":
    main()
