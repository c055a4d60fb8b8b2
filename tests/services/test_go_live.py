"""Day one at a hospital (issue 24): the national catalogue, the price list and its mapping, the
departments and doctors, each loaded from the files a hospital has, checked row by row, all or
nothing, audited; and what the settle makes of them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal as D

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from counter_app.services import clinical, national_catalogue, price_list
from counter_app.services import go_live as gl
from counter_app.services import settlement as svc
from counter_app.services.actor import PermissionDenied
from counter_app.services.errors import ServiceError, Unmapped
from counter_app.services.table_file import FileRefused
from counter_app.store.models import AuditEntry, CatalogueItem, Department, NationalItem, NationalTerm, Outbox

from .world import AT, DEPARTMENT, DOCTOR, TODAY, build

PRICE_HEADER = ("医院项目编码", "项目名称", "规格", "单位", "单价", "条码", "国家医保编码")


def counts(db) -> dict[str, int]:
    with db.sessions() as s:
        return {
            m.__tablename__: s.scalar(select(func.count()).select_from(m))
            for m in (NationalItem, NationalTerm, CatalogueItem, Department, AuditEntry)
        }


@pytest.fixture
def w(db_url):
    return build(db_url)


def boss(w):
    return w.actor("supervisor")


def test_a_catalogue_file_with_bad_lines_names_each_and_writes_nothing(w, tmp_path):
    keeper = boss(w)
    before = counts(w.db)
    bad = national_catalogue.write_download(
        [("XZ0001", "好药"), ("", "无编码"), ("XZ0001", "重复"), ("XZ 2", "空格"), ("XZ0003",)]
    )
    with pytest.raises(FileRefused) as err:
        national_catalogue.load_download(w.db, keeper, "1301", "20250101", bad)
    assert [p.split("：")[0] for p in err.value.problems] == ["第 2 行", "第 3 行", "第 4 行", "第 5 行"]
    assert "第 3 行：编码 XZ0001 与第 1 行重复" in str(err.value)
    with pytest.raises(FileRefused, match="不是压缩包"):
        national_catalogue.load_download(w.db, keeper, "1301", "20250101", b"not a zip")
    assert counts(w.db) == before


def test_reloading_the_same_catalogue_changes_nothing_and_a_new_version_only_what_changed(w):
    rows = [(f"XY{n:06d}", f"药品{n}") for n in range(300)]
    first = national_catalogue.load_download(
        w.db, boss(w), "1301", "20250101", national_catalogue.write_download(rows)
    )
    assert (first.added, first.changed, first.unchanged) == (300, 0, 0)
    again = national_catalogue.load_download(
        w.db, boss(w), "1301", "20250101", national_catalogue.write_download(rows)
    )
    assert (again.added, again.changed, again.unchanged) == (0, 0, 300)
    rows[5] = ("XY000005", "药品5（新名）")
    newer = national_catalogue.load_download(
        w.db, boss(w), "1301", "20250201", national_catalogue.write_download([*rows, ("XY999999", "新药")])
    )
    assert (newer.added, newer.changed, newer.unchanged) == (1, 1, 299)
    assert national_catalogue.held_version(w.db, "1301") == "20250201"
    with w.db.sessions() as s:
        assert s.scalar(select(NationalItem.name).where(NationalItem.code == "XY000005")) == "药品5（新名）"


def test_terms_hold_from_their_dates_and_the_visit_date_picks_them(w):
    doc = {
        "output": {
            "data": [
                {"hilist_code": "XA01010001", "chrgitm_lv": "02", "begndate": "2024-06-01", "enddate": None},
                {
                    "hilist_code": "XA01010001",
                    "chrgitm_lv": "01",
                    "begndate": "2020-01-01",
                    "enddate": "2024-05-31",
                },
            ]
        }
    }
    national_catalogue.load_terms(w.db, boss(w), "1312", json.dumps(doc))
    national_catalogue.load_terms(
        w.db,
        boss(w),
        "1319",
        json.dumps(
            {"data": [{"hilist_code": "XA01010001", "selfpay_prop": "0.10", "begndate": "2024-06-01"}]}
        ),
    )
    with w.db.sessions() as s:
        may = national_catalogue.terms_on(s, ["XA01010001"], dt.date(2024, 5, 10))["XA01010001"]
        june = national_catalogue.terms_on(s, ["XA01010001"], dt.date(2024, 6, 10))["XA01010001"]
    assert (may.cls, june.cls, june.selfpay) == ("A", "B", D("0.10"))
    june_visit = svc.preview(
        w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), dt.date(2024, 6, 10))
    )
    assert june_visit.result.preselfpay_amt == D("10.00")  # class B from June: 100.00 x 0.10
    bad = {"data": [{"hilist_code": "XA01010001", "chrgitm_lv": "07", "begndate": "2024-07-01"}]}
    with pytest.raises(FileRefused, match="chrgitm_lv“07”不是 01/02/03"):
        national_catalogue.load_terms(w.db, boss(w), "1312", json.dumps(bad))


def test_a_price_above_the_cap_goes_as_over_limit_self_pay(w):
    national_catalogue.load_terms(
        w.db,
        boss(w),
        "1318",
        json.dumps(
            {
                "data": [
                    {"hilist_code": "XB02020001", "hilist_pric_uplmt_amt": "150.00", "begndate": "2020-01-01"}
                ]
            }
        ),
    )
    pv = svc.preview(w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("B001", D("2")),), TODAY))
    r = pv.result
    assert (r.medfee_sumamt, r.overlmt_selfpay, r.preselfpay_amt) == (D("400.00"), D("100.00"), D("60.00"))
    assert pv.lines[0].overlimit == D("100.00") and pv.lines[0].national_code == "XB02020001"


def test_the_price_list_imports_from_excel_checks_every_row_and_updates_audited(w, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(PRICE_HEADER)
    sheet.append(("D900", "布洛芬缓释胶囊", "0.3g*20粒", "盒", 12.5, "6901234567890", "XA01010001"))
    sheet.append(("D901", "自制膏方", "", "剂", 88, None, None))
    path = tmp_path / "价表.xlsx"
    book.save(path)
    done = price_list.import_file(w.db, boss(w), path)
    assert (done.added, done.changed, done.unmapped) == (2, 0, ("D901",))
    with w.db.sessions() as s:
        item = s.scalar(select(CatalogueItem).where(CatalogueItem.code == "D900"))
        assert (item.price, item.pinyin, item.national_code, item.kind) == (
            D("12.50"),
            "BLFHSJN",
            "XA01010001",
            "drug",
        )
    sheet.cell(row=2, column=5, value=13)  # a new price
    book.save(path)
    again = price_list.import_file(w.db, boss(w), path)
    assert (again.added, again.changed, again.unchanged) == (0, 1, 1)
    with w.db.sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "price_list_import").order_by(AuditEntry.id.desc())
        ).first()
        change = json.loads(entry.detail)["after"]["changes"][0]
    assert (change["code"], change["before"]["price"], change["after"]["price"]) == ("D900", "12.50", "13.00")


def test_a_price_list_with_bad_rows_reports_each_line_and_imports_nothing(w, tmp_path):
    keeper = boss(w)
    before = counts(w.db)
    path = gl.write_table(
        tmp_path,
        "price_list",
        PRICE_HEADER,
        [
            ("D1", "好", "", "盒", "1.00", "", ""),
            ("D2", "负价", "", "盒", "-1", "", ""),
            ("D3", "三位小数", "", "盒", "1.005", "", ""),
            ("D1", "重复", "", "盒", "1.00", "", ""),
            ("D4", "条码", "", "盒", "1.00", "69x", ""),
            ("D5", "", "", "盒", "1.00", "", ""),
        ],
    )
    with pytest.raises(FileRefused) as err:
        price_list.import_file(w.db, keeper, path)
    assert [p.split("：")[0] for p in err.value.problems] == [
        "第 3 行",
        "第 4 行",
        "第 5 行",
        "第 6 行",
        "第 7 行",
    ]
    assert counts(w.db) == before
    wrong = gl.write_table(tmp_path, "wrong", ("编码", "名字"), [("D1", "x")])
    with pytest.raises(price_list.table_file.TableError, match="不认识的列：编码、名字"):
        price_list.import_file(w.db, keeper, wrong)


def test_an_unmapped_item_is_refused_for_insurance_with_the_reason_and_listed_for_the_supervisor(w, tmp_path):
    path = gl.write_table(
        tmp_path, "price_list", PRICE_HEADER, [("D901", "自制膏方", "", "剂", "88.00", "", "")]
    )
    price_list.import_file(w.db, boss(w), path)
    with pytest.raises(Unmapped, match="自制膏方（D901）：未对照国家医保编码，只能自费结算"):
        svc.preview(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("D901"),), TODAY))
    report = price_list.mapping_report(w.db, boss(w), TODAY)
    assert [(p.code, p.reason) for p in report] == [("D901", "未对照国家医保编码")]
    with pytest.raises(PermissionDenied):
        price_list.mapping_report(w.db, w.ctx, TODAY)  # a cashier does not keep the catalogue


def test_a_mapping_about_to_expire_is_listed(w):
    national_catalogue.load_terms(
        w.db,
        boss(w),
        "1312",
        json.dumps(
            {
                "data": [
                    {
                        "hilist_code": "XA01010001",
                        "chrgitm_lv": "01",
                        "begndate": "2020-01-01",
                        "enddate": "2024-05-20",
                    }
                ]
            }
        ),
    )
    [soon] = price_list.mapping_report(w.db, boss(w), TODAY, within_days=30)
    assert (soon.code, soon.ends) == ("A001", dt.date(2024, 5, 20))


def test_only_the_catalogue_keeper_loads_catalogues(w, tmp_path):
    before = counts(w.db)
    with pytest.raises(PermissionDenied):
        national_catalogue.load_download(
            w.db, w.ctx, "1301", "1", national_catalogue.write_download([("X1", "x")])
        )
    with pytest.raises(PermissionDenied):
        price_list.import_file(w.db, w.ctx, tmp_path / "none.csv")
    assert counts(w.db) == before


def test_a_visit_takes_the_named_doctor_or_the_defaults_and_says_what_is_missing(w):
    pv = svc.preview(w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY))
    assert (pv.visit.dept_code, pv.visit.doctor_code, pv.visit.usual_diagnosis) == (
        DEPARTMENT[0],
        DOCTOR[0],
        True,
    )
    with pytest.raises(clinical.VisitRefused, match="本机构没有在职医师 D999"):
        svc.preview(
            w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY, doctor_code="D999")
        )
    with pytest.raises(clinical.VisitRefused, match="诊断编码 X00 不在疾病目录中"):
        svc.preview(
            w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY, diagnoses=("X00",))
        )
    chronic = svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY, med_type="14")
    with pytest.raises(clinical.VisitRefused, match="门诊慢特病（14）须录入所患病种"):
        svc.settle(w.db, w.ctx, chronic, None, now=AT)
    done = svc.settle(w.db, w.ctx, replace(chronic, diagnoses=("E11.900",)), None, now=AT)
    with w.db.sessions() as s:
        payload = s.scalar(
            select(Outbox.payload).where(Outbox.infno == "2203", Outbox.visit_key == done.setl_no)
        )
    assert json.loads(payload)["visit"]["diagnoses"] == [{"code": "E11.900", "name": "2型糖尿病"}]


def test_departments_and_doctors_are_checked_before_anything_is_written(w, tmp_path):
    depts = gl.write_table(
        tmp_path,
        "departments",
        ("科室编码", "科室名称", "科别", "默认"),
        [("0201", "外科", "A04", "是"), ("0202", "", "A04", "否")],
    )
    with pytest.raises(FileRefused, match="第 3 行：0202 的科室名称为空"):
        clinical.import_departments(w.db, boss(w), "H34020200001", depts)
    doctors = gl.write_table(
        tmp_path, "doctors", ("医师编码", "医师姓名", "科室编码"), [("D1", "甲", "9999")]
    )
    with pytest.raises(FileRefused, match="医师 D1 的科室 9999 未导入"):
        clinical.import_doctors(w.db, boss(w), "H34020200001", doctors)
    with w.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Department)) == 1


def test_the_go_live_folder_loads_in_order_and_names_each_step(w, tmp_path):
    gl.write_download(tmp_path, "1305", "20250101", [("001101000010000", "普通门诊诊察费")])
    gl.write_terms(
        tmp_path, "1312", [{"hilist_code": "001101000010000", "chrgitm_lv": "01", "begndate": "2020-01-01"}]
    )
    gl.write_table(
        tmp_path, "price_list", PRICE_HEADER, [("FW1", "诊察费", "", "次", "12.00", "", "001101000010000")]
    )
    steps = gl.load_folder(w.db, boss(w), tmp_path, "H34020200001")
    assert [s.file for s in steps] == ["1305-20250101.zip", "1312.json", "price_list.csv"]
    pv = svc.preview(w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("FW1"),), TODAY))
    assert pv.lines[0].national_code == "001101000010000" and pv.result.medfee_sumamt == D("12.00")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ServiceError, match="没有可导入的文件"):
        gl.load_folder(w.db, boss(w), empty, "H34020200001")
