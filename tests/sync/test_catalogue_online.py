"""The national catalogues downloaded online (issue 24): 1301 asks after the version held, the
answer names a file fetched with 9102 and loaded by the same service as a handed-over file; the
same download again brings nothing; 1312 comes page by page and loads once. Answers are shaped as
the platform writes them, and one that does not hold together writes nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import func, select

from counter_app.services import go_live as gl
from counter_app.services import national_catalogue as nc
from counter_app.store.models import NationalItem, NationalTerm
from counter_app.sync import answers, catalogue_online
from counter_app.sync.client import BadAnswer, CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from tests.centre_process import CentreProcess
from tests.services.world import ITEMS, build
from tests.sync.test_platform_fields import check, needs_spec, spec_fields

NOW = dt.datetime(2024, 6, 20, 9, 0)
BEGIN = {"begndate": "2024-06-01", "enddate": None, "vali_flag": "1"}


@pytest.fixture
def world(sqlite_url):
    return build(sqlite_url)


def published(folder):
    """What the platform has published: the world's 1301 as it holds it, a newer 1301 (two new
    drugs, one renamed), a first 1305, and 2,500 class records (three pages of 1,000)."""
    folder.mkdir()
    gl.write_download(folder, "1301", "20240101", [(n, name) for _, name, _, n, _, _ in ITEMS])
    gl.write_download(
        folder,
        "1301",
        "20240601",
        [
            ("XA01010001", "阿莫西林胶囊（新名）", "null", "胶囊剂"),
            ("XA01010002", "布洛芬缓释胶囊", "null", "胶囊剂"),
            ("XA01010003", "二甲双胍片", "null", "片剂"),
        ],
    )
    gl.write_download(folder, "1305", "20240601", [("001102000010000", "普通门诊诊查费")])
    records = [{"hilist_code": f"XT{n:08d}", "chrgitm_lv": "02", **BEGIN} for n in range(2498)]
    records += [
        {"hilist_code": "XA01010002", "chrgitm_lv": "01", **BEGIN},
        {"hilist_code": "XA01010003", "chrgitm_lv": "03", **BEGIN},
    ]
    gl.write_terms(folder, "1312", records)
    return folder


@pytest.fixture
def centre(tmp_path, world):
    c = CentreProcess(
        tmp_path,
        registry=world.db.url.render_as_string(hide_password=False),
        extra=("--catalogues", str(published(tmp_path / "published"))),
    ).start()
    yield c
    c.stop()


def client(centre) -> CentreClient:
    return CentreClient(centre.url, credentials=Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN), timeout=5)


def requests(centre, infno):
    lines = centre.record.read_text(encoding="utf-8").splitlines()
    return [m for m in map(json.loads, lines) if m.get("infno") == infno]


def test_a_download_brings_what_is_newer_than_the_version_held_and_then_nothing(world, centre):
    boss = world.actor("supervisor")
    assert nc.held_version(world.db, "1301") == "20240101"
    report = catalogue_online.download(world.db, client(centre), boss, "1301", now=NOW)
    assert (report.version, report.read, report.added, report.changed) == ("20240601", 3, 2, 1)
    assert nc.held_version(world.db, "1301") == "20240601"
    with world.db.sessions() as s:
        assert (
            s.scalar(select(NationalItem.name).where(NationalItem.code == "XA01010001"))
            == "阿莫西林胶囊（新名）"
        )
    asked = requests(centre, "1301")
    assert [m["input"]["data"]["ver"] for m in asked] == ["20240101"]
    fetched = requests(centre, "9102")[0]["input"]["fsDownloadIn"]
    assert fetched["fixmedins_code"] == "plc" and fetched["filename"] == "1301-20240601.zip"
    assert asked[0]["sign_no"]  # the operator signed in first (9001)

    again = catalogue_online.download(world.db, client(centre), boss, "1301", now=NOW)
    assert (again.read, again.added, again.changed) == (0, 0, 0)
    assert [m["input"]["data"]["ver"] for m in requests(centre, "1301")] == ["20240101", "20240601"]
    assert len(requests(centre, "9102")) == 1  # data_cnt 0: no file fetched

    first = catalogue_online.download(world.db, client(centre), boss, "1305", now=NOW)
    assert (first.version, first.added) == ("20240601", 1)
    assert requests(centre, "1305")[0]["input"]["data"]["ver"] == "0"  # none held yet


def test_terms_come_page_by_page_and_load_once(world, centre):
    boss = world.actor("supervisor")
    catalogue_online.download(world.db, client(centre), boss, "1301", now=NOW)
    report = catalogue_online.query_terms(world.db, client(centre), boss, "1312", page_size=1000, now=NOW)
    assert (report.read, report.added) == (2500, 2500)
    pages = [m["input"]["data"] for m in requests(centre, "1312")]
    assert [p["page_num"] for p in pages] == [1, 2, 3] and {p["page_size"] for p in pages} == {1000}
    assert all(p["insu_admdvs"] == "340202" and p["query_date"] == "2024-06-20" for p in pages)
    with world.db.sessions() as s:
        terms = nc.terms_on(s, ["XA01010002", "XA01010003"], dt.date(2024, 6, 20))
        assert (terms["XA01010002"].cls, terms["XA01010003"].cls) == ("A", "C")
    again = catalogue_online.query_terms(world.db, client(centre), boss, "1312", now=NOW)
    assert (again.read, again.added, again.changed, again.unchanged) == (2500, 0, 0, 2500)


@needs_spec
def test_what_goes_upstream_is_what_the_spec_page_defines(world, centre):
    boss = world.actor("supervisor")
    catalogue_online.download(world.db, client(centre), boss, "1301", now=NOW)
    catalogue_online.query_terms(world.db, client(centre), boss, "1312", now=NOW)
    envelope, rows = spec_fields()
    sent = [json.loads(line) for line in centre.record.read_text(encoding="utf-8").splitlines()]
    assert {m["infno"] for m in sent} == {"9001", "1301", "9102", "1312"}
    assert [p for m in sent for p in check(m, envelope, rows)] == []


def test_a_file_whose_lines_are_not_the_answers_count_writes_nothing(world, centre):
    boss = world.actor("supervisor")
    talk = client(centre)
    catalogue_online.download(world.db, talk, boss, "1305", now=NOW)  # signed in; nothing newer next
    with world.db.sessions() as s:
        before = s.scalar(select(func.count()).select_from(NationalItem))
    centre.tamper_next({"output.data_cnt": 7})
    with pytest.raises(BadAnswer, match="有 3 行，应答的 data_cnt 为 7"):
        catalogue_online.download(world.db, talk, boss, "1301", now=NOW)
    with world.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(NationalItem)) == before
    assert nc.held_version(world.db, "1301") == "20240101"


def test_a_page_that_is_not_a_list_of_records_is_refused_and_nothing_is_loaded(world, centre):
    boss = world.actor("supervisor")
    talk = client(centre)
    catalogue_online.download(world.db, talk, boss, "1305", now=NOW)
    centre.tamper_next({"output.data": {"hilist_code": "X"}}, after=1)  # the second page
    with pytest.raises(BadAnswer, match="data 应为记录数组"):
        catalogue_online.query_terms(world.db, talk, boss, "1312", now=NOW)
    with world.db.sessions() as s:
        assert (
            s.scalar(select(func.count()).select_from(NationalTerm).where(NationalTerm.code.like("XT%"))) == 0
        )


@pytest.mark.parametrize(("given", "read"), [(3, 3), ("3", 3), (None, None), ("", None)])
def test_counts_are_read_as_the_platform_writes_them(given, read):
    assert answers.count(given, "data_cnt") == read


@pytest.mark.parametrize("given", ["3.5", -1, "三"])
def test_a_count_that_is_not_a_count_is_refused(given):
    with pytest.raises(answers.AnswerError, match="data_cnt"):
        answers.count(given, "data_cnt")


def test_the_version_is_read_from_the_file_name():
    assert catalogue_online.version_of("1301-20240601.zip", "1301") == "20240601"
    assert catalogue_online.version_of("plc_1301_0042.zip", "1301") == "plc_1301_0042"
