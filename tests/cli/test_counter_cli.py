"""What IT staff and supervisors expect of the command line (issue 17): `--help` lists the commands,
settings live in a file that `config` checks, a mistyped database path is an error, a centre that
does not answer is one line, and backup/restore work from the command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing

import pytest

from counter_app import config
from counter_app.cli import main


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in (
        "run",
        "settle",
        "config",
        "backup",
        "restore",
        "sync",
        "reconcile",
        "demo-data",
        "credit",
    ):
        assert f"\n  {command}" in out, command


def test_config_set_checks_each_value_and_show_masks_the_secret(_own_settings_file, capsys):
    assert main(["config", "set", "escpos", "usb:zz:1", "--file-only"]) == 2
    assert "escpos: usb printer must be usb:VID:PID in hex" in capsys.readouterr().err
    assert main(["config", "set", "slip_size", "b5", "--file-only"]) == 2
    assert main(["config", "set", "nonsense", "1", "--file-only"]) == 2
    assert "unknown setting 'nonsense'" in capsys.readouterr().err
    assert not _own_settings_file.exists()  # nothing refused was written
    assert main(["config", "set", "backup_keep", "7", "--file-only"]) == 0
    assert main(["config", "set", "passtoken", "s3cret-token-42", "--file-only"]) == 0
    assert main(["config", "set", "centre", "http://10.1.2.3:8080", "--file-only"]) == 0
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    assert "backup_keep = 7" in out and "centre = http://10.1.2.3:8080" in out
    assert "s3cret" not in out and "passtoken = ****42" in out
    assert config.load().backup_keep == 7


def test_a_hand_edited_file_that_does_not_parse_is_named(_own_settings_file, capsys, tmp_path):
    _own_settings_file.write_text('backup_keep = "many"\n', encoding="utf-8")
    with pytest.raises(SystemExit) as done:
        main(["sync", "--once", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert str(_own_settings_file) in err and "backup_keep: must be a whole number" in err


def test_a_mistyped_sqlite_path_is_an_error_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "tpyo" / "counter.sqlite3"
    with pytest.raises(SystemExit) as done:
        main(["sync", "--once", "--db", f"sqlite:///{missing}"])
    assert done.value.code == 1
    assert f"no database at {missing}" in capsys.readouterr().err
    assert not missing.parent.exists()
    assert main(["db", "upgrade", "--db", f"sqlite:///{missing}"]) == 0  # the command that creates one
    assert missing.exists()


def test_the_settings_database_is_used_and_a_flag_overrides_it(tmp_path, capsys):
    good, other = tmp_path / "good.sqlite3", tmp_path / "other.sqlite3"
    assert main(["db", "upgrade", "--db", f"sqlite:///{good}"]) == 0
    assert main(["config", "set", "database", f"sqlite:///{good}", "--file-only"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0  # the file's database
    with pytest.raises(SystemExit):
        main(["audit", "verify", "--db", f"sqlite:///{other}"])  # the flag wins for this run
    assert "no database at" in capsys.readouterr().err


def test_reconcile_with_the_centre_down_is_one_line(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert main(["demo-data", "--db", db, "--persons", "60", "--history-months", "1"]) == 0
    with closing(sqlite3.connect(tmp_path / "demo.sqlite3")) as raw:
        day = raw.execute("SELECT business_day FROM settlement ORDER BY id LIMIT 1").fetchone()[0]
    capsys.readouterr()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "counter_app",
            "reconcile",
            "--db",
            db,
            "--date",
            day,
            "--centre",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 3
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("reconcile: the insurance centre did not answer")


def test_config_set_is_a_supervisors_audited_change_or_said_to_be_the_files_only(
    tmp_path, capsys, monkeypatch
):
    from sqlalchemy import select

    from counter_app.store import Database
    from counter_app.store.models import AuditEntry
    from tests.actors import PASSWORD, add_staff

    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    add_staff(Database(db), "s9", "王主管", "supervisor", PASSWORD)
    add_staff(Database(db), "c9", "李收费", "outpatient_cashier", PASSWORD)
    monkeypatch.setenv("COUNTER_APP_PASSWORD", PASSWORD)
    assert main(["config", "set", "backup_keep", "9"]) == 2  # neither signed in nor said file-only
    assert "sign in as a supervisor" in capsys.readouterr().err
    assert main(["config", "set", "backup_keep", "9", "--by", "c9", "--db", db]) == 2
    assert "无权" in capsys.readouterr().err and config.load().backup_keep == 14
    assert main(["config", "set", "backup_keep", "9", "--by", "s9", "--db", db]) == 0
    assert "audited as s9" in capsys.readouterr().out and config.load().backup_keep == 9
    with Database(db).sessions() as s:
        last = s.scalars(select(AuditEntry).where(AuditEntry.action == "settings")).one()
    assert last.staff_no == "s9" and '"backup_keep":"9"' in last.detail
    assert main(["config", "set", "backup_keep", "8", "--file-only"]) == 0
    assert "no audit entry" in capsys.readouterr().out


def test_backup_and_restore_from_the_command_line(tmp_path, capsys, monkeypatch):
    import argparse

    from counter_app.cli.common import open_db as _open_db
    from counter_app.services.backup import in_use
    from counter_app.store import Database
    from tests.actors import PASSWORD, add_staff

    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    add_staff(Database(db), "s9", "王主管", "supervisor", PASSWORD)
    add_staff(Database(db), "c9", "李收费", "outpatient_cashier", PASSWORD)
    monkeypatch.setenv("COUNTER_APP_PASSWORD", PASSWORD)
    assert main(["backup", "--db", db]) == 2  # no folder given or set
    assert main(["backup", "--db", db, "--to", str(tmp_path / "b")]) == 0
    [copy] = (tmp_path / "b").glob("counter-*.sqlite3")
    with pytest.raises(SystemExit) as usage:
        main(["restore", str(copy), "--db", db])  # who restores must be said
    assert usage.value.code == 2
    capsys.readouterr()
    assert main(["restore", str(copy), "--db", db, "--by", "c9"]) == 1
    assert "无权恢复数据库备份" in capsys.readouterr().err
    assert main(["restore", str(copy), "--db", db, "--by", "s9"]) == 1  # the sign-ins since are newer
    assert "this drops 0 settlements" in capsys.readouterr().err
    assert main(["restore", str(copy), "--db", db, "--by", "s9", "--roll-back"]) == 0
    assert "check out" in capsys.readouterr().out
    assert main(["restore", str(tmp_path / "nothing.sqlite3"), "--db", db, "--by", "s9"]) == 1
    assert "no backup file" in capsys.readouterr().err
    args = argparse.Namespace(db=db, command="sync")
    _open_db(args)  # any command that opens the database (sync, a batch) holds it against a restore
    assert in_use(tmp_path / "c.sqlite3")
    args.held_database.close()
    assert not in_use(tmp_path / "c.sqlite3")


def test_long_work_reports_its_progress(tmp_path):
    """demo-data, the batches and the sync drain tell a progress bar as they go (the CLI draws it)."""
    import datetime as dt

    from counter_app.batch.crediting import credit_month
    from counter_app.services.demo import create_demo
    from counter_app.store import Database
    from tests.actors import actor

    db = Database(f"sqlite:///{tmp_path / 'demo.sqlite3'}")
    steps: list[tuple[int, int]] = []
    create_demo(db, 120, history_months=2, progress=lambda done, total: steps.append((done, total)))
    assert steps[0] == (1, 3) and steps[-1] == (3, 3) and len(steps) == 3
    walked: list[int] = []
    last_month = dt.date.today().replace(day=1) - dt.timedelta(days=1)
    credit_month(db, actor(db, "agency_clerk"), last_month, chunk=50, progress=walked.append)
    assert len(walked) >= 2 and walked == sorted(walked)


@pytest.mark.slow
def test_the_readmes_examples_hold_on_the_demo(tmp_path, capsys, monkeypatch):
    """A centre started with --demo holds the demo history, so a history day reconciles as 平; the demo
    carries a full past year, so last year's interest posts."""
    import datetime as dt

    from tests.centre_process import CentreProcess

    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert main(["demo-data", "--db", db, "--persons", "150", "--history-months", "2"]) == 0
    with closing(sqlite3.connect(tmp_path / "demo.sqlite3")) as raw:
        day = raw.execute(
            "SELECT business_day FROM settlement WHERE institution_id = 1 ORDER BY id LIMIT 1"
        ).fetchone()[0]
    centre = CentreProcess(tmp_path, registry=db, demo=True).start()
    try:
        capsys.readouterr()
        assert main(["reconcile", "--db", db, "--date", day, "--centre", centre.url]) == 0
        assert "对账：平" in capsys.readouterr().out
    finally:
        centre.stop()
    monkeypatch.setenv("COUNTER_APP_PASSWORD", "1234")
    assert main(["interest", "--db", db, "--year", str(dt.date.today().year - 1), "--by", "j001"]) == 0
    out = capsys.readouterr().out
    assert "posted 0 entries" not in out and "posted" in out


def test_run_without_a_display_says_so_and_creates_nothing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run(
        [sys.executable, "-m", "counter_app", "run", "--demo", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "没有图形显示" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.sqlite3").exists()
