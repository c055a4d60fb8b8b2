"""Fuzzing the `counter-app settle` entry point: hostile claims in, exit 0 or 2 out, never a crash.

    python bench/fuzz.py [--cases 10000] [--seed N]

Each case is a valid claim mutated (wrong types, look-alike digits, absurd numbers, deep nesting,
megabytes of text, control characters, cut or corrupted JSON: tests/engine/hostile.py) and fed as
bytes on standard input to `counter_app.cli.main(["settle", "-"])`, in this process. Counts:
settled (exit 0, with the contract's identities checked), rejected (exit 2 with a message on
stderr and nothing on stdout), crashed (anything else: an exception, another exit code, a
traceback, or a settlement whose identities fail). Crashed must be 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import time
import traceback
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from counter_app.cli import main
from tests.engine.hostile import cases


class _Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def run_case(text: str) -> tuple[str, str]:
    data = text.encode("utf-8", "surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = _Stdin(data)  # type: ignore[assignment]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["settle", "-"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a crash is what we count
        return "crashed", traceback.format_exc(limit=3)
    finally:
        sys.stdin = saved
    if code == 2 and out.getvalue() == "" and err.getvalue().strip() and "Traceback" not in err.getvalue():
        return "rejected", ""
    if code == 0:
        s = json.loads(out.getvalue())
        m = {
            k: Decimal(v)
            for k, v in s.items()
            if isinstance(v, str) and k not in ("policy", "policy_version")
        }
        if m["medfee_sumamt"] == m["fund_pay_sumamt"] + m["acct_pay"] + m["psn_cash_pay"]:
            return "settled", ""
        return "crashed", "identities do not hold"
    return "crashed", f"exit {code}; stderr {err.getvalue()[:200]!r}"


def main_() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--small", action="store_true", help="a small run: checks the bench still works")
    args = parser.parse_args()
    if args.small:
        args.cases = 200
    counts: Counter = Counter()
    first_crashes: list[str] = []
    start = time.perf_counter()
    for text in cases(args.cases, args.seed):
        kind, detail = run_case(text)
        counts[kind] += 1
        if kind == "crashed" and len(first_crashes) < 5:
            first_crashes.append(detail)
    seconds = time.perf_counter() - start
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    print(
        f"cases {args.cases} (seed {args.seed}) in {seconds:.1f} s: settled {counts['settled']}, "
        f"rejected {counts['rejected']}, crashed {counts['crashed']}"
    )
    for detail in first_crashes:
        print("--- crash:\n" + detail)
    sys.exit(1 if counts["crashed"] else 0)


if __name__ == "__main__":
    main_()
