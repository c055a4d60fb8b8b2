"""The national platform's message envelope, transaction numbers and field names, in one place.

From shared/spec/national-interface.md. Where that page marks something *unverified*, or where
this project had to choose (noted below), the choice is made here and nowhere else:

- money travels as strings with two decimals, as everywhere in this project (the platform's own
  examples use JSON numbers; unverified which the live platform insists on);
- the reference centre takes every transaction at one path, `API_PATH`;
- 3202 (detail reconciliation) is used by name for the list of a day's settlements behind a 3201
  mismatch; its fields are this project's.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

# Transaction numbers (infno)
SIGN_IN = "9001"
OUTPATIENT_SETTLE = "2207"
OUTPATIENT_CANCEL = "2208"
INPATIENT_SETTLE = "2304"
INPATIENT_CANCEL = "2305"
REVERSAL = "2601"
RECONCILE_TOTALS = "3201"
RECONCILE_DETAIL = "3202"
SETTLE_INFNOS = (OUTPATIENT_SETTLE, INPATIENT_SETTLE)
CANCEL_INFNOS = (OUTPATIENT_CANCEL, INPATIENT_CANCEL)
KNOWN_INFNOS = (SIGN_IN, *SETTLE_INFNOS, *CANCEL_INFNOS, REVERSAL, RECONCILE_TOTALS, RECONCILE_DETAIL)

API_PATH = "/fsi/api"
INFVER = "V1.0"
MSGID_LENGTH = 30
SUCCESS = "0"

# Envelope fields, request
ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no",
                   "dev_safe_info", "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name",
                   "inf_time", "fixmedins_code", "fixmedins_name", "sign_no", "input")
# Response fields
RESPONSE_FIELDS = ("infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output")

# setlinfo amounts carried upstream (national names; engine-contract.md uses the same)
SETL_AMOUNTS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt",
                "act_pay_dedc", "hifp_pay", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "acct_mulaid_pay",
                "psn_cash_pay", "balc")
RECONCILE_AMOUNTS = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay")

# Fund types in setldetail (fund_pay_type)
FUND_EMPLOYEE_POOLING = "310100"
FUND_EMPLOYEE_ACCOUNT = "310200"


def inf_time(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


def envelope(*, infno: str, msgid: str, institution_code: str, institution_name: str, admdvs: str,
             operator: str, operator_name: str, at: dt.datetime, data: dict[str, Any],
             insuplc_admdvs: str = "") -> dict[str, Any]:
    """A request in the platform's envelope; signatures and device data are empty (reference centre)."""
    return {
        "infno": infno, "msgid": msgid, "mdtrtarea_admvs": admdvs, "insuplc_admdvs": insuplc_admdvs or admdvs,
        "recer_sys_code": "FSI_LOCAL", "dev_no": "", "dev_safe_info": "", "cainfo": "", "signtype": "SM3",
        "infver": INFVER, "opter_type": "1", "opter": operator, "opter_name": operator_name,
        "inf_time": inf_time(at), "fixmedins_code": institution_code, "fixmedins_name": institution_name[:20],
        "sign_no": "", "input": {"data": data},
    }


def settle_data(payload: dict[str, Any], msgid: str) -> dict[str, Any]:
    """2207/2304 input from the outbox payload: person, visit and every setlinfo amount."""
    setl = payload["setlinfo"]
    data = {"psn_no": payload["psn_no"], "insutype": payload["insutype"], "med_type": payload["med_type"],
            "mdtrt_cert_type": "02", "psn_setlway": "01", "acct_used_flag": "1",
            "medins_setl_id": msgid, "setl_no": payload["setl_no"], "setl_time": payload.get("setl_time", ""),
            "acct_mulaid": [{"psn_no": m["psn_no"], "paid": m["paid"]} for m in setl["mulaid"]]}
    data.update({k: setl[k] for k in SETL_AMOUNTS})
    return data


def cancel_data(payload: dict[str, Any], original_setl_id: str) -> dict[str, Any]:
    """2208/2305 input: the centre's setl_id of the settlement being cancelled."""
    return {"psn_no": payload["psn_no"], "setl_id": original_setl_id, "mdtrt_id": "",
            "setl_no": payload["setl_no"], "omsgid": payload.get("omsgid"), "setl_time": payload["setl_time"]}


def reversal_data(psn_no: str, omsgid: str, oinfno: str) -> dict[str, Any]:
    return {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}
