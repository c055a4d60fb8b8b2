"""Two counters at once, and counters killed mid-settle at every point a settle passes: on SQLite
and PostgreSQL. Kills land where the worker says it stands (see settle_worker), never on a timer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from counter_app.services.ledger import mismatched_accounts
from counter_app.store.models import Account, LedgerEntry, Outbox, Settlement, YearTotal

from .world import build

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def worker(url: str, person_id: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.services.settle_worker", url, str(person_id), *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect(proc: subprocess.Popen, prefix: str) -> str:
    """The worker's next line, which must start with `prefix` (it blocks until the worker says it)."""
    line = proc.stdout.readline()
    assert line.startswith(prefix), (
        f"expected {prefix!r}, got {line!r}; stderr: {proc.stderr.read() if not line else ''}"
    )
    return line.strip()


def state(db):
    with db.sessions() as s:
        return {
            "balances": dict(s.execute(select(Account.person_id, Account.balance)).all()),
            "settlements": s.scalar(select(func.count()).select_from(Settlement)),
            # one settling message per settlement (its visit's 2201, 2203, 2204 come with it)
            "outbox": s.scalar(select(func.count()).select_from(Outbox).where(Outbox.infno == "2207")),
            "messages": s.scalar(select(func.count()).select_from(Outbox)),
            "entries": s.scalar(select(func.count()).select_from(LedgerEntry)),
            "totals": s.scalar(select(func.count()).select_from(YearTotal)),
            "mismatched": mismatched_accounts(s),
        }


@pytest.mark.slow
def test_two_processes_drawing_one_family_account_never_overdraw(db_url):
    """Each worker settles 100.00 ten times for the same child: 20 x 100 against 500 + 300."""
    w = build(db_url)
    procs = [worker(db_url, w.child, "10") for _ in range(2)]
    for p in procs:
        expect(p, "READY")  # both imported and connected
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    lines = [line.split() for out, _ in outs for line in out.splitlines()]
    assert len(lines) == 20 and len({setl_no for setl_no, *_ in lines}) == 20
    drawn = sum(D(mulaid) for _, mulaid, _ in lines)
    cash = sum(D(c) for *_, c in lines)
    assert drawn == D("800.00") and cash == D("1200.00")  # exactly both balances, the rest cash
    after = state(w.db)
    assert after["balances"][w.mother] == D("0.00") and after["balances"][w.father] == D("0.00")
    assert after["mismatched"] == [] and after["outbox"] == 20
    with w.db.sessions() as s:
        debits = s.scalar(select(func.sum(LedgerEntry.amount)).where(LedgerEntry.kind == "mulaid"))
        assert debits == -drawn == -s.scalar(select(func.sum(Settlement.acct_mulaid_pay)))


class ForkServer:
    """One imported worker that forks a settling child per request (see settle_worker)."""

    def __init__(self, url: str, person_id: int) -> None:
        self.proc = worker(url, person_id, "--fork-server")
        expect(self.proc, "READY")

    def ask(self, request: str) -> int:
        self.proc.stdin.write(request + "\n")
        self.proc.stdin.flush()
        return int(expect(self.proc, "CHILD").split()[1])

    def run(self, request: str) -> list[str]:
        """A request that runs to its end; the child's lines."""
        pid, lines = self.ask(request), []
        while not (line := self.proc.stdout.readline()).startswith(f"DEAD {pid}"):
            assert line, self.proc.stderr.read()
            lines.append(line.strip())
        assert line.split()[2] == "0", f"child failed: {lines}"
        return lines

    def kill_at(self, point: str) -> None:
        pid = self.ask(f"stop {point}")
        assert expect(self.proc, "AT") == f"AT {point}"
        os.kill(pid, signal.SIGKILL)
        expect(self.proc, f"DEAD {pid}")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.mark.slow
def test_a_counter_killed_at_every_point_of_a_settle_leaves_whole_settlements_only(db_url):
    """Before each SQL statement of a settle, at its COMMIT, and just after it: SIGKILL. A kill
    before the commit has returned leaves nothing of that settlement; one after leaves all of it."""
    w = build(db_url, mother_balance="100000.00")
    server = ForkServer(db_url, w.child)
    try:
        traced = server.run("trace")
        statements = int(traced[-2].split()[1])  # "STATEMENTS n", then the settlement line
        assert statements >= 5, traced
        points = [f"stmt:{k}" for k in range(1, statements + 1)] + ["commit", "after-commit"]
        kept = 1
        for point in points:
            before = state(w.db)
            server.kill_at(point)
            after = state(w.db)
            if point == "after-commit":
                kept += 1
                assert after["settlements"] == before["settlements"] + 1, point
            else:
                assert after == before, f"a kill {point} left part of a settlement behind"
            server.run("settle")  # the next counter is not held up by what the dead one left
            kept += 1
            assert after["mismatched"] == [], point
        print(f"kill points covered: {len(points)}")
    finally:
        server.close()
    w.db.dispose()
    final = state(w.db)
    assert final["settlements"] == final["outbox"] == kept  # one 2207 per settlement, no more, no less
    assert final["messages"] == 4 * kept  # and its whole visit: 2201, 2203, 2204 with it, never part of it
    assert final["mismatched"] == []
    with w.db.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "mulaid"))
            == kept
        )
        assert (
            s.scalar(select(Account.balance).where(Account.person_id == w.mother))
            == D("100000.00") - 100 * kept
        )
