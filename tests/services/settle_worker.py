"""A counter process for the multi-process tests: settles `count` times with the real services.

    python -m tests.services.settle_worker URL PERSON_ID COUNT [--go FILE] [--pause-before-commit]

--go waits for FILE to exist, so two workers start together. --pause-before-commit flushes
everything inside the settle transaction, prints PAUSED and sleeps, so the parent can SIGKILL it
mid-transaction (an event listener in this test helper, not a change to the application).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from counter_app.services import settlement as svc
from counter_app.store import Database

from .world import CTX, TODAY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("person_id", type=int)
    parser.add_argument("count", type=int)
    parser.add_argument("--go")
    parser.add_argument("--pause-before-commit", action="store_true")
    args = parser.parse_args()
    db = Database(args.url, migrate=False)
    if args.pause_before_commit:
        @event.listens_for(Session, "before_commit")
        def _pause(session: Session) -> None:
            session.flush()
            print("PAUSED", flush=True)
            time.sleep(60)
    if args.go:
        while not Path(args.go).exists():
            time.sleep(0.005)
    req = svc.ClaimRequest(args.person_id, (svc.ClaimLine("A001"),), TODAY)
    for _ in range(args.count):
        done = svc.settle(db, CTX, req, None)
        print(done.setl_no, done.result.acct_mulaid_pay, done.result.psn_cash_pay, flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
