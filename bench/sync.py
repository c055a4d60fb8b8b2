"""Sync drain rate against the centre's raw rate for the same signed requests.

    python bench/sync.py [--settles 2500] [--small]

Real visits are settled through the counter's service for the test world's four insured persons
(each settlement queues 2201, 2203, 2204 and 2207; every tenth is refunded: 2208), so each message
is what a counter queues and each answer is what the centre computes. The counter database is then
copied, and each copy is drained into a fresh reference centre that knows the same persons
(`counter-app centre --registry`):

- a recording drain writes every request the centre received (`--record`), as sent;
- the raw rate is those same request bodies sent, freshly signed, one after another by a bare
  keep-alive HTTP loop to a fresh centre (the centre's own rate: nothing read, built or written);
- the drain rate is `counter_app.sync.outbox.drain` emptying a copy (reading rows, building the
  envelopes, sending, checking the answers, writing the results back), with 1 and with IN_FLIGHT
  persons' chains in flight at once.

The raw loop runs before and after the drains and the floor is their mean (the machine is shared).
Aim (issue 28): drain >= 0.8x the raw rate, with several persons' chains in flight.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shutil
import tempfile
import time
from pathlib import Path

import common  # noqa: F401 - the project on the path, the audit's own key
import httpx

from counter_app.services import settlement as svc
from counter_app.store import Database
from counter_app.sync import fields as F
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials, sign
from counter_app.sync.outbox import IN_FLIGHT, RetryPolicy, drain
from tests.centre_process import CentreProcess
from tests.services.world import TODAY, build

TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
NOW = dt.datetime(2024, 5, 10, 18, 0)


def make_counter(folder: Path, settles: int) -> tuple[str, int]:
    """A counter database with `settles` visits (and a refund every tenth) queued; its URL and the
    number of messages queued."""
    w = build(f"sqlite:///{folder / 'counter.sqlite3'}", mother_balance="99999999.00")
    people = (w.child, w.retiree, w.mother, w.father)
    codes = ("A001", "B001", "A001")
    refunds = 0
    for n in range(settles):
        req = svc.ClaimRequest(people[n % 4], (svc.ClaimLine(codes[n % 3]),), TODAY)
        done = svc.settle(w.db, w.ctx, req, None, now=NOW)
        if n % 10 == 9:
            svc.refund(w.db, w.ctx, done.setl_no, w.approval(done.setl_no), "退药", now=NOW)
            refunds += 1
    url = w.db.url.render_as_string(hide_password=False)
    w.db.dispose()
    return url, settles * 4 + refunds


def copy_counter(source: Path, target: Path) -> str:
    target.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", target / f"counter.sqlite3{suffix}")
    return f"sqlite:///{target / 'counter.sqlite3'}"


def timed_drain(url: str, centre: CentreProcess, in_flight: int) -> tuple[float, int]:
    db = Database(url, migrate=False)
    client = CentreClient(centre.url, credentials=TRAINING)
    start = time.perf_counter()
    report = drain(db, client, policy=RetryPolicy(0, 0), batch=500, in_flight=in_flight)
    elapsed = time.perf_counter() - start
    client.close()
    db.dispose()
    assert not report.parked and not report.retried, report
    return elapsed, report.sent


def raw_loop(bodies: list[bytes], centre: CentreProcess) -> tuple[float, int]:
    """The recorded bodies, freshly signed, one after another on one keep-alive connection; returns
    the time and how many the centre answered with infcode 0."""
    ok = 0
    with httpx.Client(base_url=centre.url, timeout=30) as http:
        start = time.perf_counter()
        for body in bodies:
            headers = sign(TRAINING) | {"content-type": "application/json"}
            ok += http.post(F.API_PATH, content=body, headers=headers).json().get("infcode") in (0, "0")
        return time.perf_counter() - start, ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settles", type=int, default=2500)
    parser.add_argument("--small", action="store_true", help="a few visits: checks the bench still runs")
    args = parser.parse_args()
    settles = 25 if args.small else args.settles
    tmp = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    (tmp / "made").mkdir()
    start = time.perf_counter()
    source_url, queued = make_counter(tmp / "made", settles)
    made = time.perf_counter() - start
    source = tmp / "made" / "counter.sqlite3"
    registry = source_url

    def centre(name: str, record: bool = False) -> CentreProcess:
        (tmp / name).mkdir()
        return CentreProcess(tmp / name, registry=registry, record=record).start()

    recording = centre("recording", record=True)
    try:
        timed_drain(copy_counter(source, tmp / "copy-recorded"), recording, 1)
        bodies = [
            line.encode("utf-8")
            for line in (tmp / "recording" / "centre-requests.jsonl").read_text("utf-8").splitlines()
            if line.strip()
        ]
    finally:
        recording.stop()

    figures: dict[str, tuple[float, int]] = {}
    for run in ("raw-before", "drain-1", f"drain-{IN_FLIGHT}", "raw-after"):
        c = centre(run)
        try:
            if run.startswith("raw"):
                seconds, ok = raw_loop(bodies, c)
                assert ok == len(bodies), f"{run}: the centre refused {len(bodies) - ok} replayed requests"
                figures[run] = (seconds, len(bodies))
            else:
                in_flight = int(run.split("-")[1])
                figures[run] = timed_drain(copy_counter(source, tmp / f"copy-{run}"), c, in_flight)
        finally:
            c.stop()

    def rate(run: str) -> float:
        seconds, n = figures[run]
        return n / seconds

    raw = (rate("raw-before") + rate("raw-after")) / 2
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}, SQLite counter store, "
        f"reference centre on loopback; {dt.date.today()}"
    )
    print(
        f"visits settled: {settles:,} ({queued:,} messages queued, {len(bodies):,} requests with the "
        f"sign-in) in {made:.1f} s"
    )
    print(
        f"raw rate (bare keep-alive loop, same signed requests): {rate('raw-before'):8,.0f} / "
        f"{rate('raw-after'):,.0f} req/s before / after, floor {raw:,.0f}"
    )
    for in_flight in (1, IN_FLIGHT):
        r = rate(f"drain-{in_flight}")
        verdict = "met" if r >= 0.8 * raw else "not met"
        print(
            f"drain, {in_flight} chain(s) in flight: {r:8,.0f} msg/s = {r / raw:.2f}x the raw rate "
            f"(aim >= 0.8: {verdict})"
        )


if __name__ == "__main__":
    main()
