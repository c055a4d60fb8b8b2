"""The reference centre takes its insured from the agency's population files, the same format a
counter imports (issue 24, services/population.py): a person only the file names is found
through 1101 with the file's balance, and a bad file stops the centre before it starts."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest

from counter_app import identity
from counter_app.services import go_live as gl
from counter_app.services import lookup, population
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from counter_app.sync.inpatient_link import CentreLink
from tests.centre_process import ROOT, CentreProcess
from tests.services.world import build

NOW = dt.datetime(2024, 5, 10, 18, 0)
NEWCOMER = identity.make("340207", dt.date(1984, 6, 1), 35)
DAUGHTER = identity.make("340207", dt.date(2012, 3, 3), 42)
PERSONS = [names[0] for names in population.PERSON_COLUMNS.values()]
BINDINGS = [names[0] for names in population.BINDING_COLUMNS.values()]


@pytest.fixture
def world(sqlite_url):
    return build(sqlite_url)


def files(folder, certno=NEWCOMER):
    persons = gl.write_table(
        folder,
        "persons",
        PERSONS,
        [
            ("C7001", certno, "孙立", "310", "在职", "正常", "", "7000", "", "400.00", "55.50", ""),
            ("C7002", DAUGHTER, "孙小满", "390", "", "", "", "", "", "", "", ""),
        ],
    )
    bindings = gl.write_table(
        folder, "bindings", BINDINGS, [(certno, DAUGHTER, "子女", "2023-01-05", "芜湖")]
    )
    return persons, bindings


def test_a_person_only_the_population_file_names_is_found_through_1101(world, tmp_path):
    persons, bindings = files(tmp_path)
    centre = CentreProcess(
        tmp_path,
        registry=world.db.url.render_as_string(hide_password=False),
        extra=("--population", str(persons), "--bindings", str(bindings)),
    ).start()
    try:
        link = CentreLink(
            world.db,
            CentreClient(centre.url, credentials=Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN), timeout=2),
        )
        view = lookup.scan(world.db, world.ctx, NEWCOMER, 2024, link, now=NOW)
        assert isinstance(view, lookup.PersonView) and view.online and view.name == "孙立"
        assert view.balance == Decimal("455.50")  # the two pots, as one balance at the centre
        child = lookup.scan(world.db, world.ctx, DAUGHTER, 2024, link, now=NOW)
        assert (child.name, child.insutype) == ("孙小满", "390")
    finally:
        centre.stop()
    books = sqlite3.connect(tmp_path / "centre.sqlite3")
    assert books.execute(
        "SELECT provider, beneficiary, relation, policy FROM binding WHERE provider = 'C7001'"
    ).fetchall() == [("C7001", "C7002", "child", "wuhu-2022")]
    books.close()


def test_a_bad_population_file_stops_the_centre_with_its_lines(world, tmp_path):
    persons, _ = files(tmp_path, certno=NEWCOMER[:-1] + ("0" if NEWCOMER[-1] != "0" else "1"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "counter_app",
            "centre",
            "--centre-db",
            str(tmp_path / "c.sqlite3"),
            "--population",
            str(persons),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "第 2 行" in run.stderr and "校验" in run.stderr
    assert not (tmp_path / "c.sqlite3").exists()
