"""What goes upstream is what the platform defines: every request the counter sends to a real
`counter-app centre` process, recorded there, is checked against the field lists of
shared/spec/national-interface.md itself (not against our own fields.py): the envelope's fields,
no undefined field in the input, the identifying fields present, numbers for money and
quantities, strings for codes. Also: a centre running another pack is flagged, not silently
believed; Hefei's older names (HF-A) are read into acct_mulaid_pay when the profile says so."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from counter_app.services import inpatient
from counter_app.services import settlement as svc
from counter_app.services.actor import PermissionDenied
from counter_app.services.shift import open_shift
from counter_app.services.sync_status import centre_differences, review_difference, sync_status
from counter_app.store.models import CentreResult, Institution
from counter_app.sync import hefei_names
from counter_app.sync.client import CentreClient
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials
from counter_app.sync.inpatient_link import CentreLink
from counter_app.sync.outbox import RetryPolicy, drain, reverse, unsent
from counter_app.sync.reconcile import describe, reconcile_day
from tests.centre_process import ROOT, CentreProcess
from tests.services.world import TODAY, build

SPEC = ROOT.parent / "shared" / "spec" / "national-interface.md"
needs_spec = pytest.mark.skipif(
    not SPEC.exists(),
    reason=f"the spec page is not beside this clone ({SPEC}): "
    "these tests check requests against ../shared/spec/national-interface.md",
)
TRAINING = Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)
NOW = dt.datetime(2024, 5, 10, 18, 0)
PHARMACY = "P34020200001"
D = Decimal
SCOPE = {"fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"}
NUMBER_NAMES = re.compile(r".*(_amt|_sumamt|_pay)$")
NUMBERS = {
    "cnt",
    "pric",
    "balc",
    "fixmedins_setl_cnt",
    "selfpay_prop",
    "pool_prop_selfpay",
    "overlmt_selfpay",
    "cash_payamt",
    "diag_srt_no",  # 诊断排序号 数值型 (national-interface.md: "a number of up to 2 digits")
    # 当前页数, 本页数据量 数值型 4 (SZSI_Smart's ML1319; the spec page names them without a type)
    "page_num",
    "page_size",
}
# What the spec page marks required (its 必填 columns), for each transaction the counter sends: present
# and not empty. The test's own list, from the page's prose; a required field the counter cannot
# know (the bed at admission) may be empty only while fields.NOT_YET_KNOWN says so.
REQUIRED = {
    "9001": {"opter_no", "ip"},
    "9002": {"sign_no", "opter_no"},
    "1101": {"mdtrt_cert_type", "mdtrt_cert_no"},
    "2201": {
        "psn_no",
        "insutype",
        "begntime",
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        "ipt_otp_no",
        "atddr_no",
        "dr_name",
        "dept_code",
        "dept_name",
        "caty",
    },
    "2203": {"mdtrt_id", "psn_no", "med_type", "begntime"},
    "2204": {
        "feedetl_sn",
        "mdtrt_id",
        "psn_no",
        "chrg_bchno",
        "med_list_codg",
        "medins_list_codg",
        "det_item_fee_sumamt",
        "cnt",
        "pric",
        "bilg_dept_codg",
        "bilg_dept_name",
        "bilg_dr_codg",
        "bilg_dr_name",
    },
    "2206": {
        "psn_no",
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        "med_type",
        "medfee_sumamt",
        "mdtrt_id",
        "chrg_bchno",
        "acct_used_flag",
        "insutype",
        "psn_setlway",
    },
    "2207": {
        "psn_no",
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        "med_type",
        "medfee_sumamt",
        "mdtrt_id",
        "chrg_bchno",
        "acct_used_flag",
        "insutype",
        "psn_setlway",
        "invono",
        *SCOPE,
    },
    "2208": {"psn_no", "setl_id", "mdtrt_id"},
    "2102": {
        "psn_no",
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        "med_type",
        "medfee_sumamt",
        "insutype",
        "feedetl_sn",
        "med_list_codg",
        "medins_list_codg",
        "det_item_fee_sumamt",
        "cnt",
        "pric",
        "invono",
    },
    "2103": {"psn_no", "setl_id", "mdtrt_id"},
    "2401": {
        "psn_no",
        "insutype",
        "mdtrt_cert_type",
        "mdtrt_cert_no",
        "med_type",
        "begntime",
        "ipt_no",
        "atddr_no",
        "chfpdr_name",
        "adm_diag_dscr",
        "adm_dept_codg",
        "adm_dept_name",
        "adm_bed",
        "dscg_maindiag_code",
        "dscg_maindiag_name",
    },
    "2402": {"mdtrt_id", "psn_no", "insutype", "endtime", "dscg_dept_codg", "dscg_dept_name", "dscg_way"},
    "2301": {
        "feedetl_sn",
        "mdtrt_id",
        "psn_no",
        "med_list_codg",
        "medins_list_codg",
        "det_item_fee_sumamt",
        "cnt",
        "pric",
        "bilg_dept_codg",
        "bilg_dr_codg",
    },
    "2302": {"feedetl_sn", "mdtrt_id", "psn_no"},
    "2303": {"psn_no", "mdtrt_id", "medfee_sumamt", "mid_setl_flag", "insutype", "acct_used_flag", *SCOPE},
    "2304": {
        "psn_no",
        "mdtrt_id",
        "medfee_sumamt",
        "mid_setl_flag",
        "insutype",
        "acct_used_flag",
        "invono",
        *SCOPE,
    },
    "2305": {"psn_no", "mdtrt_id", "setl_id"},
    "2405": {"psn_no", "mdtrt_id"},
    "2601": {"psn_no", "omsgid", "oinfno"},
    "3201": {
        "insutype",
        "stmt_begndate",
        "stmt_enddate",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "acct_pay",
        "fixmedins_setl_cnt",
    },
    # catalogues: a download names the version held; a paged query always has these three
    **{c: {"ver"} for c in ("1301", "1302", "1305", "1306", "1307", "1309")},
    **{q: {"updt_time", "page_num", "page_size"} for q in ("1312", "1318", "1319")},
    "3202": {
        "setl_optins",
        "file_qury_no",
        "stmt_begndate",
        "stmt_enddate",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "cash_payamt",
        "fixmedins_setl_cnt",
    },
    "9101": {"in", "filename", "fixmedins_code"},
    "9102": {"file_qury_no", "filename", "fixmedins_code"},
}
# Lengths the page says the platform enforces ("Lengths worth enforcing")
LENGTHS = {
    "invono": 20,
    "msgid": 30,
    "ipt_otp_no": 30,
    "ipt_no": 30,
    "feedetl_sn": 30,
    "chrg_bchno": 30,
    "mdtrt_id": 30,
    "setl_id": 30,
    "psn_no": 30,
    "mdtrt_cert_no": 50,
    "card_sn": 32,
    "opter_no": 20,
    "ip": 20,
    "mac": 20,
    "sign_no": 30,
}
# Lists the page marks required and non-empty (a diagnosis record each)
REQUIRED_LISTS = {"2203": "diseinfo", "2401": "diseinfo", "2402": "diseinfo"}


def spec_fields() -> tuple[set[str], dict[str, set[str]]]:
    """(envelope request fields, {infno: every field name the spec page names for it}): its row of
    the transactions table, and every section whose heading names the transaction."""
    text = SPEC.read_text(encoding="utf-8")
    table = text.split("## Envelope")[1].split("HTTP gateway")[0]
    envelope = {
        name
        for line in table.splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }  # the first column only
    rows: dict[str, set[str]] = {}
    for line in text.split("## Transactions")[1].split("## Settlement output")[0].splitlines():
        head = re.match(r"\|\s*([\d /]+?)\s*\|", line)
        if not head:
            continue
        names = set(re.findall(r"`([A-Za-z_]+)(?:\[\])?`", line))
        if "four scope amounts" in line:
            names |= SCOPE
        for infno in re.findall(r"\d{4}", head.group(1)):
            rows.setdefault(infno, set()).update(names)
    details = text.split("# Details gathered from public integration code")[1].split("## Sources")[0]
    for section in details.split("\n## ")[1:]:
        heading, _, body = section.partition("\n")
        numbers = set(re.findall(r"\d{4}", heading))
        for first, last in re.findall(r"(\d{4})–(\d{4})", heading):  # "1301–1319": every one between
            numbers |= {str(n) for n in range(int(first), int(last) + 1)}
        if "3202" in numbers:  # the detail goes by a file uploaded with 9101 and fetched with 9102
            numbers |= {"9101", "9102"}
        names = set(re.findall(r"`([A-Za-z_]+)(?:\[\])?`", body))
        for infno in numbers:
            rows.setdefault(infno, set()).update(names)
    # 2402's diagnoses are "in the same record shape as 2401's" (its section says)
    rows["2402"] |= {n for n in rows["2401"] if n.startswith(("diag_", "dise_dor_", "maindiag_", "adm_cond"))}
    # the page defines a diagnosis record (diseinfo[]) once, in 2203's row; 2401/2402 name the node
    diagnosis = {n for n in rows["2203"] if n.startswith(("diag_", "dise_dor_")) or n == "vali_flag"}
    for names in rows.values():
        if "diseinfo" in names:
            names |= diagnosis
    return envelope, rows


def check(request: dict, envelope: set[str], rows: dict[str, set[str]]) -> list[str]:
    from counter_app.sync.fields import NOT_YET_KNOWN

    infno = request.get("infno")
    gaps = NOT_YET_KNOWN.get(str(infno), frozenset())
    out = [f"{infno}: envelope field {k} undefined" for k in request if k not in envelope]
    out += [f"{infno}: envelope field {k} missing" for k in envelope if k not in request]
    msgid = str(request.get("msgid"))
    if len(msgid) != 30 or not msgid[12:].isdigit():
        out.append(f"{infno}: msgid {msgid} is not the institution code and 18 digits")
    if infno != "9001" and not request.get("sign_no"):
        out.append(f"{infno}: sign_no empty on a message after sign-in")
    allowed = rows.get(infno, set()) | {"data"}
    seen: set[str] = set()

    def walk(node: object, where: str) -> None:
        if isinstance(node, list):
            for n, item in enumerate(node):
                walk(item, f"{where}[{n}]")
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key not in allowed:
                out.append(f"{infno}: {where}.{key} is not a field of {infno} on the spec page")
            if isinstance(value, (dict, list)):
                if (
                    isinstance(value, list)
                    and not value
                    and REQUIRED_LISTS.get(str(infno)) == key
                    and key not in gaps
                ):
                    out.append(f"{infno}: {where}.{key} is an empty list")
                walk(value, f"{where}.{key}")
                continue
            seen.add(key)
            number = key in NUMBERS or bool(NUMBER_NAMES.match(key))
            if number and (isinstance(value, bool) or not isinstance(value, (int, Decimal))):
                out.append(f"{infno}: {where}.{key} should be a JSON number, is {value!r}")
            if not number and not isinstance(value, str):
                out.append(f"{infno}: {where}.{key} should be a string, is {value!r}")
            if key in REQUIRED.get(infno, ()) and value in ("", None) and key not in gaps:
                out.append(f"{infno}: {where}.{key} is empty")
            if isinstance(value, str) and len(value) > LENGTHS.get(key, 10_000):
                out.append(
                    f"{infno}: {where}.{key} is {len(value)} characters, the platform allows {LENGTHS[key]}"
                )

    walk(request.get("input"), "input")
    out += [f"{infno}: {k} missing" for k in REQUIRED.get(infno, set()) - seen]
    if "psn_no" in seen and not request.get("insuplc_admdvs"):
        out.append(f"{infno}: insuplc_admdvs empty although the input names a psn_no")
    return out


@needs_spec
def test_the_spec_page_is_there_and_lists_the_transactions():
    envelope, rows = spec_fields()
    assert {"infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "input"} <= envelope
    assert {
        "2201",
        "2203",
        "2204",
        "2207",
        "2208",
        "2101",
        "2102",
        "2103",
        "2301",
        "2302",
        "2303",
        "2304",
        "2305",
        "2401",
        "2402",
        "2404",
        "2405",
        "2601",
        "3201",
    } <= set(rows)
    assert "setl_no" not in rows["2207"] and "acct_mulaid" not in rows["2207"]  # what we used to send


@pytest.fixture
def world(sqlite_url):
    w = build(sqlite_url, mother_balance="100000.00")
    with w.db.transaction() as s:  # a designated retail pharmacy beside the hospital
        s.add(
            Institution(
                id=2,
                code=PHARMACY,
                name="芜湖市惠民大药房",
                level=0,
                kind="pharmacy",
                designated=True,
                admdvs="340202",
                policy="wuhu-2022",
            )
        )
    return w


@pytest.mark.slow
@needs_spec
def test_every_request_the_counter_sends_is_what_the_platform_defines(world, tmp_path):
    w = world
    shop = w.actor("pharmacy_clerk", institution=PHARMACY, counter="药房1")
    open_shift(w.db, shop, D("100.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    ward = w.actor("inpatient_cashier", counter="住院1")
    open_shift(w.db, ward, D("100.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    # made offline, before the centre is up: by resident ID, social-security card and e-voucher
    by_id = svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(w.child, (svc.ClaimLine("A001", D("2")), svc.ClaimLine("B001")), TODAY),
        None,
        now=NOW,
    )
    svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY, cert_type="03", cert_no="A00000004"),
        None,
        now=NOW,
    )
    svc.settle(
        w.db,
        w.ctx,
        svc.ClaimRequest(w.mother, (svc.ClaimLine("C001"),), TODAY, cert_type="01", cert_no="EV1234567890"),
        None,
        now=NOW,
    )
    svc.refund(w.db, w.ctx, by_id.setl_no, w.approval(by_id.setl_no), "退药", now=NOW)
    sold = svc.settle(
        w.db, shop, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY, med_type="41"), None, now=NOW
    )
    boss = w.actor("supervisor", institution=PHARMACY, counter="药房2")  # a clerk may not refund (roles.toml)
    open_shift(w.db, boss, D("0.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    svc.refund(w.db, boss, sold.setl_no, w.approval(sold.setl_no, by=boss), "退货", now=NOW)
    adm = inpatient.admit(w.db, ward, 5, D("500.00"), now=NOW)
    inpatient.post_fee(w.db, ward, adm, "A001", D("3"), now=NOW)
    inpatient.post_fee(w.db, ward, adm, "A001", D("-1"), now=NOW)

    centre = CentreProcess(tmp_path, registry=w.db.url.render_as_string(hide_password=False)).start()
    try:
        client = CentreClient(centre.url, credentials=TRAINING)
        report = drain(w.db, client, policy=RetryPolicy(0, 0), now=lambda: NOW)
        assert report.parked == 0 and not report.errors, (
            report,
            [(e.infno, e.last_error) for e in unsent(w.db, "parked", per_message=True)],
        )
        link = CentreLink(w.db, client, now=lambda: NOW)
        mid = inpatient.discharge_preview(w.db, ward, adm, TODAY, link, interim=True)
        inpatient.discharge(w.db, ward, adm, mid, link, now=NOW)
        inpatient.post_fee(w.db, ward, adm, "B001", D("1"), now=NOW)
        out = inpatient.discharge_preview(w.db, ward, adm, TODAY, link)
        done = inpatient.discharge(w.db, ward, adm, out, link, now=NOW)
        inpatient.cancel(
            w.db, ward, done.settled.setl_no, w.approval(done.settled.setl_no, by=ward), "重结", link, now=NOW
        )
        late = svc.settle(
            w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY), None, now=NOW
        )
        assert not reconcile_day(w.db, client, w.ctx.institution_code, TODAY, now=NOW).ties  # 3201, then 3202
        drain(w.db, client, policy=RetryPolicy(0, 0), now=lambda: NOW)
        assert reverse(w.db, client, late.msgid, now=NOW)["infcode"] == 0  # 2601
        from counter_app.sync import signin

        assert (
            link.person_info(
                w.ctx.institution_code, w.ctx.staff_no, "张晓燕", "02", w.certnos["child"]
            ).psn_no
            == "P0001"
        )  # 1101
        assert signin.sign_out(
            w.db, client, w.ctx.institution_code, w.ctx.staff_no, "张晓燕", now=NOW
        )  # 9002
        requests = centre.requests()
        raw = centre.record.read_text(encoding="utf-8")
    finally:
        centre.stop()
    envelope, rows = spec_fields()
    problems = [p for r in requests for p in check(r, envelope, rows)]
    assert problems == []
    sent = {r["infno"] for r in requests}
    assert {
        "2201",
        "2203",
        "2204",
        "2207",
        "2208",
        "2102",
        "2103",
        "2401",
        "2301",
        "2302",
        "2402",
        "2303",
        "2304",
        "2305",
        "2405",
        "2601",
        "3201",
        "3202",
        "9001",
        "9002",
        "1101",
        "9101",
        "9102",
    } <= sent
    with w.db.sessions() as s:  # a pharmacy registers no visit: its sale is one 2102, its refund one 2103
        from counter_app.store.models import Outbox

        assert s.scalars(
            select(Outbox.infno).where(Outbox.institution_id == 2).order_by(Outbox.id)
        ).all() == ["2102", "2103"]
    # the scanned credential decides mdtrt_cert_type and _no
    certs = {
        (r["input"]["data"]["mdtrt_cert_type"], r["input"]["data"]["mdtrt_cert_no"])
        for r in requests
        if r["infno"] == "2201"
    }
    assert {("02", w.certnos["child"]), ("03", "A00000004"), ("01", "EV1234567890")} <= certs
    # money written from the exact Decimal: 2 x 100.00 went as 200.00, never 200.0 or a string
    assert '"det_item_fee_sumamt":200.00' in raw and '"cnt":2' in raw and '"medfee_sumamt":"' not in raw
    # one visit's messages in the platform's order, each once
    visit = [
        r["infno"]
        for r in requests
        if r["infno"] in ("2201", "2203", "2204", "2207") and by_id.setl_no in str(r["input"])
    ]
    assert visit[:1] == ["2201"] and len([r for r in requests if r["msgid"] == by_id.msgid]) == 1
    # every fee line carries the platform's code beside the hospital's (issue 24)
    from ..services.world import DEPARTMENT, DOCTOR, ITEMS

    national = {code: n for code, _, _, n, _, _ in ITEMS}
    lines = [
        ln
        for r in requests
        if r["infno"] in ("2204", "2301", "2102")
        for ln in (r["input"].get("feedetail") or r["input"].get("drugdetail") or [])
    ]
    assert lines and all(ln["med_list_codg"] == national[ln["medins_list_codg"]] for ln in lines)
    # the visit's department, doctor and diagnosis where the platform wants them
    registers = [r["input"]["data"] for r in requests if r["infno"] == "2201"]
    assert {(d["dept_code"], d["caty"], d["atddr_no"], d["dr_name"]) for d in registers} == {
        (DEPARTMENT[0], DEPARTMENT[2], *DOCTOR)
    }
    for r in requests:
        if r["infno"] in ("2203", "2401", "2402"):
            assert [d["diag_code"] for d in r["input"]["diseinfo"]] == ["J06.900"], r["infno"]
        if r["infno"] in ("2204", "2301"):
            assert {(ln["bilg_dept_codg"], ln["bilg_dr_codg"]) for ln in r["input"]["feedetail"]} == {
                (DEPARTMENT[0], DOCTOR[0])
            }


@needs_spec
def test_fields_py_sends_nothing_the_spec_page_does_not_define():
    from counter_app.sync import fields as F

    _, rows = spec_fields()
    for infno, nodes in F.INPUTS.items():
        for node, (_, names) in nodes.items():
            assert node == "data" or node in rows[infno], (infno, node)
            assert set(names) <= rows[infno], (infno, set(names) - rows[infno])


def _other_pack(folder: Path) -> Path:
    """The shipped packs, with Wuhu's level-3 in-service ratio 0.50 changed to 0.45 (a newer policy)."""
    from counter_app.policies import policy_dir

    target = folder / "packs"
    shutil.copytree(policy_dir(), target)
    wuhu = target / "wuhu-2022.toml"
    wuhu.write_text(wuhu.read_text(encoding="utf-8").replace('3 = "0.50"', '3 = "0.45"'), encoding="utf-8")
    return target


def test_a_centre_with_another_pack_disagrees_and_the_settlement_is_flagged_not_overwritten(world, tmp_path):
    w = world
    done = svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.retiree, (svc.ClaimLine("A001"),), TODAY), None, now=NOW
    )
    assert done.result.hifp_pay == D("55.00")  # retiree at level 3: 0.50 + 0.05 on 100.00 (deductible met)
    centre = CentreProcess(
        tmp_path, registry=w.db.url.render_as_string(hide_password=False), policies=_other_pack(tmp_path)
    ).start()
    try:
        client = CentreClient(centre.url, credentials=TRAINING)
        drain(w.db, client, policy=RetryPolicy(0, 0), now=lambda: NOW)
        report = reconcile_day(w.db, client, w.ctx.institution_code, TODAY, now=NOW)
    finally:
        centre.stop()
    with w.db.sessions() as s:
        result = s.scalar(select(CentreResult))
    assert not result.equal
    sup = w.actor("supervisor")
    [diff] = centre_differences(w.db, sup)
    assert diff.setl_no == done.setl_no and diff.differences["hifp_pay"] == ["55.00", "50.00"]
    assert diff.differences["acct_pay"] == ["45.00", "50.00"]  # the centre's own account share follows
    assert sync_status(w.db).differences == 1
    text = describe(report)
    assert (
        f"{done.setl_no}：金额不符：基金 医药机构 55.00 中心 50.00" in text
    )  # the centre's verdict, from its file
    assert "hifp_pay" not in text  # said in words, not field names
    with w.db.sessions() as s:  # nothing overwritten: the local settlement stands as settled
        from counter_app.store.models import Settlement

        assert s.get(Settlement, done.settlement_id).hifp_pay == D("55.00")
    with pytest.raises(PermissionDenied, match="无权处理上传队列"):
        centre_differences(w.db, w.ctx)  # a cashier does not review
    review_difference(w.db, sup, done.setl_no, "中心政策已调整，按中心结果与财务沟通")
    assert centre_differences(w.db, sup) == [] and sync_status(w.db).differences == 0
    assert len(centre_differences(w.db, sup, include_reviewed=True)) == 1


@pytest.mark.parametrize(
    ("insutype", "med_type", "county", "name"),
    [
        ("310", "11", False, "akc262"),  # employee, outpatient
        ("310", "21", False, "akc262"),  # employee, inpatient
        ("390", "11", False, "akc262"),  # city-level resident
        ("390", "11", True, "familyAccountMoney"),  # four counties' and one city's residents, outpatient
        ("390", "21", True, "currFamilyEnableMoney"),  # the same, inpatient
    ],
)
def test_hf_a_each_older_name_is_read_into_acct_mulaid_pay(insutype, med_type, county, name):
    assert hefei_names.family_amount_name(insutype, med_type, county) == name
    answer = {"acct_pay": D("80.00"), name: D("30.00")}
    assert hefei_names.normalise(answer, "hefei-legacy")["acct_mulaid_pay"] == D("30.00")
    assert "acct_mulaid_pay" not in hefei_names.normalise(answer, "national")  # only when the profile says so
    both = {**answer, "acct_mulaid_pay": D("30.00")}
    assert hefei_names.normalise(both, "hefei-legacy") == both  # the national name wins
    with pytest.raises(ValueError, match="unknown centre profile"):
        hefei_names.normalise(answer, "shanghai")


def test_a_hefei_centre_answering_in_older_names_reconciles_only_under_its_profile(world, tmp_path):
    w = world
    svc.settle(
        w.db, w.ctx, svc.ClaimRequest(w.child, (svc.ClaimLine("A001"),), TODAY), None, now=NOW
    )  # family pays
    centre = CentreProcess(
        tmp_path, registry=w.db.url.render_as_string(hide_password=False), profile="hefei-legacy"
    ).start()
    try:
        drain(
            w.db,
            CentreClient(centre.url, credentials=TRAINING, profile="hefei-legacy"),
            policy=RetryPolicy(0, 0),
            now=lambda: NOW,
        )
        setlinfo = [r for r in centre.requests() if r["infno"] == "2207"]
    finally:
        centre.stop()
    assert setlinfo  # the 2207 went
    with w.db.sessions() as s:
        result = s.scalar(select(CentreResult))
    assert result.equal and '"akc262"' in result.setlinfo  # read from akc262 into acct_mulaid_pay
