"""A counter process for the multi-process tests: settles with the real services, and says where it is.

    python -m tests.services.settle_worker URL PERSON_ID COUNT          # settle COUNT times
    python -m tests.services.settle_worker URL PERSON_ID --fork-server  # fork one settling child per request

Nothing here waits on the clock: a worker prints READY once it has imported and connected and then
waits for a line on stdin before settling, so two workers start together however slow the machine.

With --fork-server the process imports once and then reads requests, one a line, on stdin:
`trace` (settle once, announce every statement, report how many), `settle` (settle once) or
`stop BEFORE` (settle once and stop for good at that point: `stmt:K` before the settle's K-th
SQL statement, `commit` at the COMMIT with everything flushed, `after-commit` once it has returned).
Each request runs in a forked child that prints `CHILD pid`, and `AT point` when it has stopped
there; the parent kills it and the server prints `DEAD pid` once the child is gone. The kill
therefore lands exactly where the child said it was, on a fast machine or a crawling one. The
statement hooks are SQLAlchemy events registered in this helper, not changes to the application.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from counter_app.services import settlement as svc
from counter_app.store import Database

from ..actors import actor
from .world import TODAY


class Probe:
    """Counts the SQL statements of one settle and stops the process at a chosen one."""

    def __init__(self) -> None:
        self.active = False
        self.count = 0
        self.stop_at: str | None = None
        self.trace = False
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)

    def _halt(self, point: str) -> None:
        print(f"AT {point}", flush=True)
        while True:  # stopped for good: the parent kills this process here, at the point it announced
            signal.pause()

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not self.active:
            return
        self.count += 1
        if self.trace:
            print(f"STMT {self.count} {' '.join(statement.split())[:60]}", flush=True)
        if self.stop_at == f"stmt:{self.count}":
            self._halt(self.stop_at)

    def _commit(self, _conn: Any) -> None:
        if self.active and self.stop_at == "commit":
            self._halt("commit")


def settle_once(db: Database, person_id: int, probe: Probe | None = None) -> svc.Settled:
    req = svc.ClaimRequest(person_id, (svc.ClaimLine("A001"),), TODAY)
    cashier = actor(db, "outpatient_cashier")  # signed in before the statements are counted
    if probe is not None:
        probe.active, probe.count = True, 0
    try:
        return svc.settle(db, cashier, req, None)
    finally:
        if probe is not None:
            probe.active = False


def report(done: svc.Settled) -> None:
    print(done.setl_no, done.result.acct_mulaid_pay, done.result.psn_cash_pay, flush=True)


def child(url: str, person_id: int, request: str, probe: Probe) -> None:
    """One request, in a forked child with its own connections."""
    db = Database(url, migrate=False)
    kind, _, point = request.partition(" ")
    probe.trace = kind == "trace"
    probe.stop_at = point or None
    done = settle_once(db, person_id, probe)
    if kind == "trace":
        print(f"STATEMENTS {probe.count}", flush=True)
    if point == "after-commit":
        probe._halt(point)
    report(done)


def fork_server(url: str, person_id: int) -> None:
    probe = Probe()
    print("READY", flush=True)
    for line in sys.stdin:
        request = line.strip()
        if not request:
            continue
        pid = os.fork()
        if pid == 0:
            try:
                print(f"CHILD {os.getpid()}", flush=True)
                child(url, person_id, request, probe)
                code = 0
            except BaseException as exc:  # noqa: BLE001 - said on stderr, the parent sees the exit code
                print(f"child failed: {exc!r}", file=sys.stderr, flush=True)
                code = 1
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"DEAD {pid} {status}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("person_id", type=int)
    parser.add_argument("count", type=int, nargs="?", default=0)
    parser.add_argument("--fork-server", action="store_true")
    args = parser.parse_args()
    if args.fork_server:
        fork_server(args.url, args.person_id)
        return
    db = Database(args.url, migrate=False)
    db.engine.connect().close()  # connected before saying ready
    print("READY", flush=True)
    sys.stdin.readline()  # the parent says go to every worker at once
    for _ in range(args.count):
        report(settle_once(db, args.person_id))
    sys.exit(0)


if __name__ == "__main__":
    main()
