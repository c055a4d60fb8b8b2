"""Go live from the command line (issue 24): a hospital's folder of files loads in order; a bad
file is one message naming its lines, exit 2, nothing written; a cashier may not load anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from counter_app.cli import main
from counter_app.services import go_live as gl
from counter_app.store import Database
from counter_app.store.models import CatalogueItem, Doctor, NationalItem


@pytest.mark.slow
def test_golive_loads_a_folder_and_a_bad_price_list_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COUNTER_APP_PASSWORD", "1234")  # the demo supervisor s001
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert main(["demo-data", "--db", db, "--persons", "20"]) == 0
    capsys.readouterr()
    folder = tmp_path / "golive"
    folder.mkdir()
    gl.write_download(folder, "1301", "20261201", [("XN99999999", "新到药品")])
    gl.write_terms(
        folder, "1312", [{"hilist_code": "XN99999999", "chrgitm_lv": "02", "begndate": "2026-12-01"}]
    )
    gl.write_table(
        folder,
        "price_list",
        ("医院项目编码", "项目名称", "单位", "单价", "国家医保编码"),
        [("XD9999", "新到药品", "盒", "9.90", "XN99999999")],
    )
    gl.write_table(
        folder, "doctors", ("医师编码", "医师姓名", "科室编码"), [("D340202000999", "新医师", "0101")]
    )
    assert main(["golive", str(folder), "--db", db, "--by", "s001"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "1301-20261201.zip",
        "1312.json",
        "price_list.csv",
        "doctors.csv",
    ]
    assert "新增 1" in out[2] and "医师新增 1" in out[3]

    bad = tmp_path / "bad.csv"
    gl.write_table(
        tmp_path,
        "bad",
        ("医院项目编码", "项目名称", "单位", "单价"),
        [("XD1", "甲", "盒", "abc"), ("XD2", "乙", "盒", "1")],
    )
    with Database(db).sessions() as s:
        before = s.scalar(select(func.count()).select_from(CatalogueItem))
    assert main(["pricelist", "import", str(bad), "--db", db, "--by", "s001"]) == 2
    assert "第 2 行：XD1 的单价“abc”不是金额" in capsys.readouterr().err
    assert main(["pricelist", "import", str(bad), "--db", db, "--by", "c001"]) == 2  # a cashier
    assert "无权维护医保目录" in capsys.readouterr().err
    with Database(db).sessions() as s:
        assert s.scalar(select(func.count()).select_from(CatalogueItem)) == before
        assert s.scalar(select(NationalItem.name).where(NationalItem.code == "XN99999999")) == "新到药品"
        assert s.scalar(select(func.count()).select_from(Doctor).where(Doctor.code == "D340202000999")) == 1

    assert main(["pricelist", "report", "--db", db, "--by", "s001"]) == 0
    report = capsys.readouterr()
    assert "FW00016\t体检套餐（公共卫生）\t-\t未对照国家医保编码" in report.out  # the demo's unmapped item


@pytest.mark.slow
def test_catalogue_download_from_the_centre_and_a_centre_that_is_away(tmp_path, capsys, monkeypatch):
    """`catalogue download` asks the configured centre after each catalogue held; a centre that
    does not answer is one line and exit 3, the catalogue as it was."""
    from tests.centre_process import CentreProcess

    monkeypatch.setenv("COUNTER_APP_PASSWORD", "1234")
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    assert main(["demo-data", "--db", db, "--persons", "20"]) == 0
    published = tmp_path / "published"
    published.mkdir()
    gl.write_download(published, "1301", "20261201", [("XN99999999", "新到药品")])
    gl.write_terms(
        published,
        "1318",
        [{"hilist_code": "XN99999999", "hilist_pric_uplmt_amt": "9.5", "begndate": "2026-12-01"}],
    )
    centre = CentreProcess(tmp_path, registry=db, extra=("--catalogues", str(published))).start()
    try:
        capsys.readouterr()
        assert (
            main(
                ["catalogue", "download", "1301", "1318", "--db", db, "--by", "s001", "--centre", centre.url]
            )
            == 0
        )
        out = capsys.readouterr().out.splitlines()
        assert (
            out[0].startswith("1301 版本 20261201：读入 1 行，新增 1")
            and "1318" in out[1]
            and "新增 1" in out[1]
        )
    finally:
        centre.stop()
    assert main(["catalogue", "download", "1301", "--db", db, "--by", "s001", "--centre", centre.url]) == 3
    assert "did not answer" in capsys.readouterr().err
    source = Database(db, migrate=False, create=False)
    with source.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(NationalItem).where(NationalItem.code == "XN99999999"))
            == 1
        )
    source.dispose()
