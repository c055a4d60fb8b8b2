"""Fund monitoring (WH-31, WH-32) on demo data with six months of history: the anomalies
planted there are found, and nothing else is; the PDF carries the charts and the list."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from counter_app.batch.monitoring import monitor_month
from counter_app.printing.agency_reports import monitoring_pdf
from counter_app.services.demo import create_demo
from counter_app.services.demo_history import CENTRE, HOSPITAL
from counter_app.store import Database
from tests.actors import actor

TODAY = dt.date(2026, 11, 20)
OCTOBER = dt.date(2026, 10, 1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite3'}")
    create_demo(db, 2000, today=TODAY)
    from counter_app.services.demo_history import create_history

    planted = create_history(db, 6, today=TODAY)["planted_provider"]
    return db, planted


@pytest.mark.slow
def test_WH_31_the_planted_anomalies_are_found_and_nothing_else(demo):
    db, planted = demo
    report = monitor_month(db, actor(db, "agency_clerk"), OCTOBER)
    found = {(a.indicator, a.institution_code) for a in report.anomalies}
    assert found == {("visit_growth", CENTRE), ("family_draws", HOSPITAL)}
    family = next(a for a in report.anomalies if a.indicator == "family_draws")
    assert planted in family.detail and family.value.startswith("12 笔")
    centre = next(r for r in report.institutions if r.code == CENTRE)
    assert (
        centre.growth > report.thresholds.visit_growth
        and centre.previous_visits >= report.thresholds.min_previous
    )


def test_WH_31_a_quiet_month_has_no_anomaly(demo):
    db, _ = demo
    assert monitor_month(db, actor(db, "agency_clerk"), dt.date(2026, 8, 1)).anomalies == []


def test_WH_32_indicators_and_history(demo):
    db, _ = demo
    report = monitor_month(db, actor(db, "agency_clerk"), OCTOBER, history_months=6)
    assert [m for m, _ in report.history[HOSPITAL]] == [dt.date(2026, m, 1) for m in range(5, 11)]
    assert all(v > 0 for _, v in report.history[HOSPITAL])
    hospital = next(r for r in report.institutions if r.code == HOSPITAL)
    assert hospital.visits == report.history[HOSPITAL][-1][1]
    assert hospital.inpatient_stays == 0 and hospital.outpatient_per_inpatient is None


def test_the_monitoring_pdf_shows_charts_and_anomalies(demo):
    db, planted = demo
    pdf = PdfReader(io.BytesIO(monitoring_pdf(monitor_month(db, actor(db, "agency_clerk"), OCTOBER))))
    text = "".join(p.extract_text() for p in pdf.pages)
    assert "2026-10 门诊共济与个人账户基金监测" in text and "异常 2 项" in text and planted in text
    assert sum(len(p.images) for p in pdf.pages) == 2  # the two charts
    flat = text.replace("\n", "")
    assert "未能监测的指标（WH-32）" in flat and "大型设备检查阳性率" in flat and "药品配备率" in flat


def test_the_report_says_which_WH_32_indicators_it_cannot_measure_and_why(demo):
    db, _ = demo
    report = monitor_month(db, actor(db, "agency_clerk"), OCTOBER)
    assert [(rule, indicator) for rule, indicator, _ in report.not_measured] == [
        ("WH-32", "大型设备检查阳性率"),
        ("WH-32", "医保目录药品配备率、使用率"),
    ]
    assert all("不持有" in needs or "只有" in needs for *_, needs in report.not_measured)
