"""The national platform's envelope, transaction numbers and the fields of each transaction's input.

From shared/spec/national-interface.md, in one place. The counter's builders (`messages.py`) and
the reference centre's checks both read the lists here, and a test checks them against the spec
page itself. Where the page marks something *unverified* or this project had to choose:

- 3202 (detail reconciliation) goes by file: the day's settlements are uploaded with 9101, 3202
  names the file, and its result file comes back by 9102 (reconcile.py);
- the reference centre takes every transaction at one path, `API_PATH`;

Money, quantities, prices and ratios are JSON numbers written from the exact Decimal (`wire.py`);
codes, ids and times are strings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ..infno import (
    ADMIT as ADMIT,
)
from ..infno import (
    ADMIT_CANCEL as ADMIT_CANCEL,
)
from ..infno import (
    CANCEL_INFNOS as CANCEL_INFNOS,
)
from ..infno import (
    CATALOGUE_DOWNLOADS as CATALOGUE_DOWNLOADS,
)
from ..infno import (
    CATALOGUE_FILE_CODE as CATALOGUE_FILE_CODE,
)
from ..infno import (
    DISCHARGE as DISCHARGE,
)
from ..infno import (
    DISCHARGE_CANCEL as DISCHARGE_CANCEL,
)
from ..infno import (
    DISEASE_DOWNLOADS as DISEASE_DOWNLOADS,
)
from ..infno import (
    FEE_CANCEL as FEE_CANCEL,
)
from ..infno import (
    FEE_UPLOAD as FEE_UPLOAD,
)
from ..infno import (
    FILE_DOWNLOAD as FILE_DOWNLOAD,
)
from ..infno import (
    FILE_UPLOAD as FILE_UPLOAD,
)
from ..infno import (
    INPATIENT_CANCEL as INPATIENT_CANCEL,
)
from ..infno import (
    INPATIENT_FEE_CANCEL as INPATIENT_FEE_CANCEL,
)
from ..infno import (
    INPATIENT_FEE_UPLOAD as INPATIENT_FEE_UPLOAD,
)
from ..infno import (
    INPATIENT_PRESETTLE as INPATIENT_PRESETTLE,
)
from ..infno import (
    INPATIENT_SETTLE as INPATIENT_SETTLE,
)
from ..infno import (
    ITEM_DOWNLOADS as ITEM_DOWNLOADS,
)
from ..infno import (
    OUTPATIENT_CANCEL as OUTPATIENT_CANCEL,
)
from ..infno import (
    OUTPATIENT_PRESETTLE as OUTPATIENT_PRESETTLE,
)
from ..infno import (
    OUTPATIENT_SETTLE as OUTPATIENT_SETTLE,
)
from ..infno import (
    PERSON_INFO as PERSON_INFO,
)
from ..infno import (
    PHARMACY_CANCEL as PHARMACY_CANCEL,
)
from ..infno import (
    PHARMACY_PRESETTLE as PHARMACY_PRESETTLE,
)
from ..infno import (
    PHARMACY_SETTLE as PHARMACY_SETTLE,
)
from ..infno import (
    RECONCILE_DETAIL as RECONCILE_DETAIL,
)
from ..infno import (
    RECONCILE_TOTALS as RECONCILE_TOTALS,
)
from ..infno import (
    REGISTER as REGISTER,
)
from ..infno import (
    REGISTER_CANCEL as REGISTER_CANCEL,
)
from ..infno import (
    REGISTER_INFNOS as REGISTER_INFNOS,
)
from ..infno import (
    REVERSAL as REVERSAL,
)
from ..infno import (
    SETTLE_INFNOS as SETTLE_INFNOS,
)
from ..infno import (  # the transaction numbers, read here as F.SIGN_IN and so on
    SIGN_IN as SIGN_IN,
)
from ..infno import (
    SIGN_OUT as SIGN_OUT,
)
from ..infno import (
    TERM_QUERIES as TERM_QUERIES,
)
from ..infno import (
    VISIT_INFO as VISIT_INFO,
)

API_PATH = "/fsi/api"
INFVER = "V1.0"
MSGID_LENGTH = 30
SUCCESS = "0"

# Envelope fields, request and response
ENVELOPE_FIELDS = (
    "infno",
    "msgid",
    "mdtrtarea_admvs",
    "insuplc_admdvs",
    "recer_sys_code",
    "dev_no",
    "dev_safe_info",
    "cainfo",
    "signtype",
    "infver",
    "opter_type",
    "opter",
    "opter_name",
    "inf_time",
    "fixmedins_code",
    "fixmedins_name",
    "sign_no",
    "input",
)
RESPONSE_FIELDS = ("infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output")

SCOPE_AMOUNTS = ("fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
DIAGNOSIS = (
    "diag_type",
    "diag_srt_no",
    "diag_code",
    "diag_name",
    "diag_dept",
    "dise_dor_no",
    "dise_dor_name",
    "diag_time",
    "vali_flag",
)
_OTP_SETTLE = (
    "psn_no",
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "med_type",
    "medfee_sumamt",
    "psn_setlway",
    "mdtrt_id",
    "chrg_bchno",
    "acct_used_flag",
    "insutype",
)
_IPT_SETTLE = (
    "psn_no",
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "medfee_sumamt",
    "psn_setlway",
    "mdtrt_id",
    "insutype",
    "acct_used_flag",
    "mid_setl_flag",
    "invono",
    *SCOPE_AMOUNTS,
)
_DRUGINFO = (
    "psn_no",
    "mdtrt_cert_type",
    "mdtrt_cert_no",
    "begntime",
    "medfee_sumamt",
    "insutype",
    "med_type",
    "acct_used_flag",
    "invono",
    "dise_codg",
    "dise_name",
)
_DRUGDETAIL = (
    "feedetl_sn",
    "rxno",
    "rx_circ_flag",
    "fee_ocur_time",
    "med_list_codg",
    "medins_list_codg",
    "det_item_fee_sumamt",
    "cnt",
    "pric",
    "bilg_dr_codg",
    "bilg_dr_name",
)
_ADMIT = (
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
)
_DISCHARGE = ("mdtrt_id", "psn_no", "insutype", "endtime", "dscg_dept_codg", "dscg_dept_name", "dscg_way")
# 2401 / 2402 diagnosis records (newtouch marks all required but adm_cond)
STAY_DIAGNOSIS = (
    "psn_no",
    "diag_type",
    "maindiag_flag",
    "diag_srt_no",
    "diag_code",
    "diag_name",
    "diag_dept",
    "dise_dor_no",
    "dise_dor_name",
    "diag_time",
)
_RECONCILE = (
    "insutype",
    "clr_type",
    "setl_optins",
    "stmt_begndate",
    "stmt_enddate",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "fixmedins_setl_cnt",
)

# The input of each transaction the counter sends: node -> (a list of records?, its fields).
# Every field listed is sent (empty string where the counter has nothing); nothing else is.
INPUTS: dict[str, dict[str, tuple[bool, tuple[str, ...]]]] = {
    PHARMACY_PRESETTLE: {"druginfo": (False, _DRUGINFO), "drugdetail": (True, _DRUGDETAIL)},
    PHARMACY_SETTLE: {"druginfo": (False, _DRUGINFO), "drugdetail": (True, _DRUGDETAIL)},
    PHARMACY_CANCEL: {"data": (False, ("setl_id", "psn_no", "mdtrt_id"))},
    REGISTER: {
        "data": (
            False,
            (
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
            ),
        )
    },
    REGISTER_CANCEL: {"data": (False, ("psn_no", "mdtrt_id", "ipt_otp_no"))},
    VISIT_INFO: {
        "mdtrtinfo": (
            False,
            ("mdtrt_id", "psn_no", "med_type", "begntime", "main_cond_dscr", "dise_codg", "dise_name"),
        ),
        "diseinfo": (True, DIAGNOSIS),
    },
    FEE_UPLOAD: {
        "feedetail": (
            True,
            (
                "feedetl_sn",
                "mdtrt_id",
                "psn_no",
                "chrg_bchno",
                "rxno",
                "rx_circ_flag",
                "fee_ocur_time",
                "med_list_codg",
                "medins_list_codg",
                "det_item_fee_sumamt",
                "cnt",
                "pric",
                "bilg_dept_codg",
                "bilg_dept_name",
                "bilg_dr_codg",
                "bilg_dr_name",
                "hosp_appr_flag",
            ),
        )
    },
    FEE_CANCEL: {"data": (False, ("mdtrt_id", "chrg_bchno", "psn_no"))},
    OUTPATIENT_PRESETTLE: {"data": (False, _OTP_SETTLE)},
    OUTPATIENT_SETTLE: {"data": (False, (*_OTP_SETTLE, "invono", *SCOPE_AMOUNTS))},
    OUTPATIENT_CANCEL: {"data": (False, ("psn_no", "setl_id", "mdtrt_id"))},
    ADMIT: {"mdtrtinfo": (False, _ADMIT), "diseinfo": (True, STAY_DIAGNOSIS)},
    DISCHARGE: {"dscginfo": (False, _DISCHARGE), "diseinfo": (True, STAY_DIAGNOSIS)},
    ADMIT_CANCEL: {"data": (False, ("mdtrt_id", "psn_no"))},
    DISCHARGE_CANCEL: {"data": (False, ("mdtrt_id", "psn_no"))},
    INPATIENT_FEE_UPLOAD: {
        "feedetail": (
            True,
            (
                "feedetl_sn",
                "mdtrt_id",
                "psn_no",
                "med_type",
                "fee_ocur_time",
                "med_list_codg",
                "medins_list_codg",
                "det_item_fee_sumamt",
                "cnt",
                "pric",
                "bilg_dept_codg",
                "bilg_dept_name",
                "bilg_dr_codg",
                "bilg_dr_name",
            ),
        )
    },
    INPATIENT_FEE_CANCEL: {"data": (False, ("feedetl_sn", "mdtrt_id", "psn_no"))},
    INPATIENT_PRESETTLE: {"data": (False, _IPT_SETTLE)},
    INPATIENT_SETTLE: {"data": (False, _IPT_SETTLE)},
    INPATIENT_CANCEL: {"data": (False, ("psn_no", "mdtrt_id", "setl_id"))},
    REVERSAL: {"data": (False, ("psn_no", "omsgid", "oinfno"))},
    RECONCILE_TOTALS: {"data": (False, _RECONCILE)},
    RECONCILE_DETAIL: {
        "data": (
            False,
            (
                "setl_optins",
                "file_qury_no",
                "stmt_begndate",
                "stmt_enddate",
                "medfee_sumamt",
                "fund_pay_sumamt",
                "cash_payamt",
                "fixmedins_setl_cnt",
            ),
        )
    },
    SIGN_IN: {"signIn": (False, ("opter_no", "mac", "ip"))},
    SIGN_OUT: {"signOut": (False, ("sign_no", "opter_no"))},
    PERSON_INFO: {
        "data": (
            False,
            (
                "mdtrt_cert_type",
                "mdtrt_cert_no",
                "card_sn",
                "begntime",
                "psn_cert_type",
                "certno",
                "psn_name",
            ),
        )
    },
    FILE_UPLOAD: {"fsUploadIn": (False, ("in", "filename", "fixmedins_code"))},
    FILE_DOWNLOAD: {"fsDownloadIn": (False, ("file_qury_no", "filename", "fixmedins_code"))},
    **{c: {"data": (False, ("ver",))} for c in CATALOGUE_DOWNLOADS},
    **{
        q: {"data": (False, ("query_date", "updt_time", "page_num", "page_size", "insu_admdvs"))}
        for q in TERM_QUERIES
    },
}

# Fields the public tables do not mark required, or mark required only in some cases (card_sn for
# a social-security card; 9001's mac, where the sources disagree): they may go empty.
OPTIONAL: dict[str, frozenset[str]] = {
    VISIT_INFO: frozenset({"main_cond_dscr", "dise_codg", "dise_name"}),
    PERSON_INFO: frozenset({"card_sn", "begntime", "psn_cert_type", "certno", "psn_name"}),
    PHARMACY_SETTLE: frozenset({"dise_codg", "dise_name", "rxno", "bilg_dr_codg", "bilg_dr_name"}),
    PHARMACY_PRESETTLE: frozenset({"dise_codg", "dise_name", "rxno", "bilg_dr_codg", "bilg_dr_name"}),
    FEE_UPLOAD: frozenset({"rxno"}),
    OUTPATIENT_CANCEL: frozenset(),
    SIGN_IN: frozenset({"mac"}),
}
# Required fields the counter cannot know and sends empty, each with why. A test holds every
# other required field of every request non-empty (tests/sync/test_platform_fields.py).
NOT_YET_KNOWN: dict[str, frozenset[str]] = {
    ADMIT: frozenset({"adm_bed"}),  # the ward assigns the bed; the admission counter does not know it
}
# Lengths the platform enforces (national-interface.md, "Lengths worth enforcing")
LENGTHS = {
    "invono": 20,
    "msgid": MSGID_LENGTH,
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
    "mdtrt_cert_type": 3,
    "ver": 20,
}
INVONO_LENGTH = 20
KNOWN_INFNOS = tuple(INPUTS)

# Fields that are JSON numbers (数值型): amounts, quantities, prices, ratios, counts.
NUMBER_FIELDS = frozenset(
    {
        "medfee_sumamt",
        "det_item_fee_sumamt",
        "cnt",
        "pric",
        *SCOPE_AMOUNTS,
        "fund_pay_sumamt",
        "acct_pay",
        "fixmedins_setl_cnt",
        "diag_srt_no",  # 诊断排序号 数值型 2 (newtouch's Input_2203A)
        "pric_uplmt_amt",
        "selfpay_prop",
        "overlmt_amt",
        "act_pay_dedc",
        "hifp_pay",
        "pool_prop_selfpay",
        "cvlserv_pay",
        "hifes_pay",
        "hifmi_pay",
        "hifob_pay",
        "maf_pay",
        "oth_pay",
        "psn_part_amt",
        "psn_cash_pay",
        "hosp_part_amt",
        "balc",
        "acct_mulaid_pay",
        "crt_payb_lmt_amt",
        "fund_payamt",
        "cash_payamt",
        "page_num",
        "page_size",
    }
)

# setlinfo (the settlement's output) and its amounts
SETL_AMOUNTS = (
    "medfee_sumamt",
    *SCOPE_AMOUNTS,
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
    "balc",
)
SETLINFO = (
    "mdtrt_id",
    "setl_id",
    "psn_no",
    "insutype",
    "psn_type",
    "med_type",
    "setl_time",
    "medfee_sumamt",
    "fulamt_ownpay_amt",
    "overlmt_selfpay",
    "preselfpay_amt",
    "inscp_scp_amt",
    "act_pay_dedc",
    "hifp_pay",
    "pool_prop_selfpay",
    "cvlserv_pay",
    "hifes_pay",
    "hifmi_pay",
    "hifob_pay",
    "maf_pay",
    "oth_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "psn_cash_pay",
    "hosp_part_amt",
    "balc",
    "acct_mulaid_pay",
    "medins_setl_id",
    "clr_optins",
    "clr_way",
    "clr_type",
)
# What the counter compares between its own settlement and the centre's answer (the split the
# patient saw); `balc` is a state, and may differ where another counter drew the account since.
COMPARED_AMOUNTS = (
    "medfee_sumamt",
    *SCOPE_AMOUNTS,
    "act_pay_dedc",
    "hifp_pay",
    "fund_pay_sumamt",
    "psn_part_amt",
    "acct_pay",
    "acct_mulaid_pay",
    "psn_cash_pay",
)
# Fee line classification, as 2204 / 2301 answer it per line
FEE_RESULT = (
    "feedetl_sn",
    "det_item_fee_sumamt",
    "cnt",
    "pric",
    "pric_uplmt_amt",
    "selfpay_prop",
    "fulamt_ownpay_amt",
    "overlmt_amt",
    "preselfpay_amt",
    "inscp_scp_amt",
    "chrgitm_lv",
    "med_chrgitm_type",
    "lmt_used_flag",
)
RECONCILE_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")

# Fund types in setldetail (fund_pay_type)
FUND_EMPLOYEE_POOLING = "310100"
FUND_EMPLOYEE_ACCOUNT = "310200"
FUND_RESIDENT_POOLING = "390100"

# Codes
CERT_EVOUCHER, CERT_ID, CERT_CARD = "01", "02", "03"  # mdtrt_cert_type
CHRGITM_LV = {"A": "01", "B": "02", "C": "03"}  # *unverified* on the spec page; kept here only
MED_CHRGITM_TYPE = {"drug": "09", "service": "05", "material": "08"}  # 西药费, 治疗费, 卫生材料费


def invono(setl_no: str) -> str:
    """The invoice number sent on 2207/2304/2102, at most 20 characters: the settlement number's
    last 20 (the institution code's tail and the 10-digit serial: unique within the institution)."""
    return setl_no[-INVONO_LENGTH:]


def inf_time(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def envelope(
    *,
    infno: str,
    msgid: str,
    institution_code: str,
    institution_name: str,
    admdvs: str,
    operator: str,
    operator_name: str,
    at: dt.datetime,
    input: dict[str, Any],
    insuplc_admdvs: str = "",
    sign_no: str = "",
) -> dict[str, Any]:
    """A request in the platform's envelope; device and signature data are empty (the gateway
    headers carry the signature, gateway.py). `insuplc_admdvs` is the patient's place of insurance
    (from 1101; empty when the input names nobody, e.g. 9001 or 1101 itself); `sign_no` the
    operator's sign-in in force (signin.py)."""
    return {
        "infno": infno,
        "msgid": msgid,
        "mdtrtarea_admvs": admdvs,
        "insuplc_admdvs": insuplc_admdvs,
        "recer_sys_code": "FSI_LOCAL",
        "dev_no": "",
        "dev_safe_info": "",
        "cainfo": "",
        "signtype": "SM3",
        "infver": INFVER,
        "opter_type": "1",
        "opter": operator,
        "opter_name": operator_name,
        "inf_time": inf_time(at),
        "fixmedins_code": institution_code,
        "fixmedins_name": institution_name[:20],
        "sign_no": sign_no,
        "input": input,
    }


def problems(infno: str, given: Any) -> list[str]:
    """What is wrong with a transaction's `input` by the lists above: a missing or undefined node
    or field, a number sent as text, a code sent as a number. Empty when it is right."""
    shape = INPUTS.get(infno)
    if shape is None:
        return [f"未知交易编号 {infno}"]
    if not isinstance(given, dict):
        return ["input 应为对象"]
    out = [f"input.{node} 未定义" for node in given if node not in shape]
    for node, (is_list, names) in shape.items():
        value = given.get(node)
        if value is None:
            out.append(f"input.{node} 缺失")
            continue
        records = value if is_list else [value]
        if is_list and not isinstance(value, list):
            out.append(f"input.{node} 应为数组")
            continue
        for n, rec in enumerate(records):
            where = f"input.{node}[{n}]" if is_list else f"input.{node}"
            if not isinstance(rec, dict):
                out.append(f"{where} 应为对象")
                continue
            out += [f"{where}.{k} 未定义" for k in rec if k not in names]
            out += [f"{where}.{k} 缺失" for k in names if k not in rec]
            for k, v in rec.items():
                if k in NUMBER_FIELDS and not (isinstance(v, (int, Decimal)) and not isinstance(v, bool)):
                    out.append(f"{where}.{k} 应为数值，收到 {type(v).__name__}")
                elif k not in NUMBER_FIELDS and k in names and not isinstance(v, str):
                    out.append(f"{where}.{k} 应为字符串，收到 {type(v).__name__}")
                elif isinstance(v, str) and k in LENGTHS and len(v) > LENGTHS[k]:
                    out.append(f"{where}.{k} 超过 {LENGTHS[k]} 位（{len(v)} 位）")
    return out


def msgid_problem(msgid: Any, institution_code: Any) -> str | None:
    """What is wrong with a msgid: 30 characters, the institution code (12), then 18 digits (the
    time, 14, and a serial, 4: every implementation seen uses digits only)."""
    if (
        not isinstance(msgid, str)
        or len(msgid) != MSGID_LENGTH
        or not msgid.startswith(str(institution_code))
    ):
        return "msgid 应为 30 位：机构编码(12) + 时间(14) + 序号(4)"
    tail = msgid[12:]
    if not (tail.isascii() and tail.isdigit()):
        return "msgid 的时间和序号应全为数字"
    try:
        dt.datetime.strptime(tail[:14], "%Y%m%d%H%M%S")
    except ValueError:
        return "msgid 的时间应为 yyyyMMddHHmmss"
    return None
