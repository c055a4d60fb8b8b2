"""`counter-app settle` as a process: stdout JSON and exit 0, or exit 2 with named problems."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.engine.builders import claim, item

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT.parent / "shared" / "spec" / "examples"


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "counter_app", "settle", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_settles_a_file(tmp_path: Path):
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(claim(items=[item(amount="1200.00")], person={"account_balance": "300.00"})))
    done = run(str(path))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["hifp_pay"], out["acct_pay"], out["psn_cash_pay"]) == ("200.00", "300.00", "700.00")
    assert done.stderr == ""


def test_reads_stdin_with_dash():
    done = run("-", stdin=json.dumps(claim()))
    assert done.returncode == 0 and json.loads(done.stdout)["medfee_sumamt"] == "100.00"


def test_bad_input_exits_2_with_one_line_per_problem_and_nothing_on_stdout():
    bad = claim(items=[item(amount="12,5"), item(amount="-1.00")], med_type="99")
    done = run("-", stdin=json.dumps(bad))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        'items[0].amount: not a decimal: "12,5"',
        'items[1].amount: negative amount: "-1.00"',
        "med_type: unknown code '99' (known: 11, 13, 14, 21, 41, 51, 52)",
    ]


def test_malformed_json_and_missing_file_exit_2():
    done = run("-", stdin='{"policy": ')
    assert done.returncode == 2 and done.stderr.startswith("claim: not valid JSON:") and done.stdout == ""
    done = run("/nonexistent/claim.json")
    assert done.returncode == 2 and "/nonexistent/claim.json: cannot read the claim" in done.stderr


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="../shared/spec/examples is not beside this checkout")
def test_shared_worked_examples_pass():
    env = dict(os.environ, COUNTER_APP=f"{sys.executable} -m counter_app")
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "run-examples")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.endswith(" passed, 0 failed") and not last.startswith("0 "), done.stdout
