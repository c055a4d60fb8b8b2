"""Time to build a slip PDF: loading the slip from the store, and rendering each layout.

python bench/slip.py [--n 200]
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counter_app.printing import pdf
from counter_app.printing.slip import load_slip
from counter_app.services import settlement as svc
from tests.services.world import build


def timed(fn, n: int) -> tuple[float, float]:
    runs = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    runs.sort()
    return statistics.median(runs) * 1000, runs[int(0.99 * (len(runs) - 1))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    n = 10 if args.small else args.n
    w = build(f"sqlite:///{tempfile.mkdtemp()}/slip.sqlite3", mother_balance="150.00")
    req = svc.ClaimRequest(
        w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001"), svc.ClaimLine("C001")), dt.date(2024, 5, 10)
    )
    setl_no = svc.settle(w.db, w.ctx, req, None).setl_no
    slip = load_slip(w.db, setl_no)
    pdf.render(slip)  # font registration once, as the app does at start
    print(
        f"machine: {platform.machine()}, Python {platform.python_version()}; slip with 3 items, 2 family providers"
    )
    print(
        "load slip from store:   p50 {:6.1f} ms  p99 {:6.1f} ms".format(
            *timed(lambda: load_slip(w.db, setl_no), n)
        )
    )
    for layout in pdf.LAYOUTS:
        print(
            f"render {layout:9s} PDF:  p50 %6.1f ms  p99 %6.1f ms"
            % timed(lambda layout=layout: pdf.render(slip, layout), n)
        )
    print("aim: thermal slip <= 50 ms")


if __name__ == "__main__":
    main()
