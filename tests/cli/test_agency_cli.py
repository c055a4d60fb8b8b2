"""The agency batches from the command line, on demo data with history; bad input is exit 2."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from counter_app.cli import main


@pytest.mark.slow
def test_batches_run_from_the_cli_on_demo_data(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COUNTER_APP_PASSWORD", "1234")  # the demo agency clerk j001
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert main(["demo-data", "--db", db, "--persons", "300", "--history-months", "2"]) == 0
    last_month = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    assert main(["credit", "--db", db, "--month", last_month, "--by", "j001"]) == 0
    out = capsys.readouterr().out
    assert f"crediting {last_month} (wuhu-2022): posted" in out
    assert main(["credit", "--db", db, "--month", last_month, "--by", "j001"]) == 0
    assert "posted 0 entries" in capsys.readouterr().out
    assert main(["declaration", "--db", db, "--out", str(tmp_path / "out"), "--by", "j001"]) == 0
    out = capsys.readouterr().out
    assert "ledger ties" in out
    rows = list(
        csv.DictReader(
            (tmp_path / "out" / f"declaration-H34020200001-{last_month}.csv").open(encoding="utf-8-sig")
        )
    )
    assert rows[-1]["业务"] == "净额" and int(rows[-1]["笔数"]) > 0 and rows[-3]["业务"] == "结算"
    assert main(["monitor", "--db", db, "--out", str(tmp_path / "out"), "--by", "j001"]) == 0
    assert (tmp_path / "out" / f"monitoring-{last_month}.pdf").stat().st_size > 10_000


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch):
    from counter_app.store import Database
    from tests.actors import PASSWORD, ensure_staff

    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    ensure_staff(Database(db), "agency_clerk", "outpatient_cashier")
    monkeypatch.setenv("COUNTER_APP_PASSWORD", PASSWORD)
    assert main(["credit", "--db", db, "--month", "2026-13", "--by", "agency1"]) == 2
    assert capsys.readouterr().err.strip() == "month must be YYYY-MM, got '2026-13'"
    assert main(["interest", "--db", db, "--year", str(dt.date.today().year), "--by", "agency1"]) == 2
    assert "has not ended" in capsys.readouterr().err
    assert (
        main(["credit", "--db", db, "--month", "2026-01", "--policy", "nowhere-2020", "--by", "agency1"]) == 2
    )
    assert "unknown policy pack 'nowhere-2020'" in capsys.readouterr().err
    assert (
        main(["declaration", "--db", db, "--institution", "H000", "--out", str(tmp_path), "--by", "agency1"])
        == 2
    )
    assert "unknown institution code 'H000'" in capsys.readouterr().err
    assert main(["credit", "--db", db, "--month", "2026-01", "--by", "cashier1"]) == 2  # a cashier may not
    assert capsys.readouterr().err.strip() == "张晓燕（门诊收费员）无权执行经办批处理"
    monkeypatch.setenv("COUNTER_APP_PASSWORD", "wrong")
    assert main(["credit", "--db", db, "--month", "2026-01", "--by", "agency1"]) == 2
    assert capsys.readouterr().err.strip() == "工号或密码错误"
