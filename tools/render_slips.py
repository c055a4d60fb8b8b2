"""Render sample slips to docs/slips/ (PDF and PNG): a settlement drawing two family providers,
its refund, and a reprint, in both layouts. Run after changing a slip; look at the PNGs.

    .venv/bin/python tools/render_slips.py
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from counter_app.printing import pdf  # noqa: E402
from counter_app.printing.slip import load_slip  # noqa: E402
from counter_app.services import settlement as svc  # noqa: E402
from tests.services.world import build  # noqa: E402


def sample(tmp: Path) -> tuple:
    """A child whose mother (150.00) and father both pay, at a level-3 hospital."""
    w = build(f"sqlite:///{tmp / 'slips.sqlite3'}", mother_balance="150.00")
    req = svc.ClaimRequest(
        w.child, (svc.ClaimLine("A001"), svc.ClaimLine("B001"), svc.ClaimLine("C001")), dt.date(2024, 5, 10)
    )
    done = svc.settle(w.db, w.ctx, req, None, now=dt.datetime(2024, 5, 10, 9, 30, 5))
    back = svc.refund(
        w.db,
        w.ctx,
        done.setl_no,
        w.approval(done.setl_no),
        "患者退药",
        now=dt.datetime(2024, 5, 10, 10, 2, 0),
    )
    return w.db, done.setl_no, back.setl_no


def main() -> None:
    out = ROOT / "docs" / "slips"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        db, setl_no, refund_no = sample(Path(tmp))
        for name, number, copy in (
            ("settlement", setl_no, 1),
            ("refund", refund_no, 1),
            ("reprint", setl_no, 2),
        ):
            slip = load_slip(db, number, copy=copy)
            for layout in pdf.LAYOUTS:
                if name != "settlement" and layout == "a5":
                    continue
                target = out / f"{name}-{layout}.pdf"
                target.write_bytes(pdf.render(slip, layout))
                subprocess.run(
                    [
                        "pdftoppm",
                        "-png",
                        "-r",
                        "110",
                        "-singlefile",
                        str(target),
                        str(target.with_suffix("")),
                    ],
                    check=True,
                )
                print(target.with_suffix(".png"))


if __name__ == "__main__":
    main()
