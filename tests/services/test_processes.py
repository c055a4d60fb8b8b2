"""Two counters at once, and a counter killed mid-settle: on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from counter_app.services.ledger import mismatched_accounts
from counter_app.store.models import Account, LedgerEntry, Outbox, Settlement, YearTotal

from .world import build

ROOT = Path(__file__).resolve().parents[2]
D = Decimal


def worker(url: str, person_id: int, count: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.services.settle_worker", url, str(person_id), str(count),
                             *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(db):
    with db.sessions() as s:
        return {
            "balances": dict(s.execute(select(Account.person_id, Account.balance)).all()),
            "settlements": s.scalar(select(func.count()).select_from(Settlement)),
            "outbox": s.scalar(select(func.count()).select_from(Outbox)),
            "entries": s.scalar(select(func.count()).select_from(LedgerEntry)),
            "totals": s.scalar(select(func.count()).select_from(YearTotal)),
            "mismatched": mismatched_accounts(s),
        }


def test_two_processes_drawing_one_family_account_never_overdraw(db_url, tmp_path):
    """Each worker settles 100.00 ten times for the same child: 20 x 100 against 500 + 300."""
    w = build(db_url)
    go = tmp_path / "go"
    procs = [worker(db_url, w.child, 10, "--go", str(go)) for _ in range(2)]
    time.sleep(1.0)  # both import and connect, then start together
    go.touch()
    outs = [p.communicate(timeout=120) for p in procs]
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


def test_a_counter_killed_mid_settle_leaves_none_of_it(db_url):
    w = build(db_url)
    before = state(w.db)
    proc = worker(db_url, w.child, 1, "--pause-before-commit")
    line = proc.stdout.readline()
    assert line.strip() == "PAUSED", proc.stderr.read()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    w.db.dispose()
    time.sleep(0.2)  # PostgreSQL notices the dropped connection and rolls back
    assert state(w.db) == before


def test_counters_killed_at_random_moments_leave_whole_settlements_only(db_url):
    """Kill a settling worker at staggered moments; what is left is always whole."""
    w = build(db_url, mother_balance="100000.00")
    for delay in (0.7, 0.85, 1.0, 1.15, 1.3):
        proc = worker(db_url, w.child, 1000)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    w.db.dispose()
    after = state(w.db)
    n = after["settlements"]
    assert n > 0, "no worker got as far as a settlement: the kills came too early"
    print(f"settlements kept: {n}")
    assert after["mismatched"] == []
    assert after["outbox"] == n  # one message per settlement, no more, no less
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == "mulaid")) == n
        assert s.scalar(select(Account.balance).where(Account.person_id == w.mother)) == D("100000.00") - 100 * n
