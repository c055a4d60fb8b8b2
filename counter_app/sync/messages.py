"""The platform's input for each queued message, from its outbox payload and the ids the centre
gave earlier messages of the same visit (national-interface.md; field lists in fields.py).

Payload money is text (as in the store); here it becomes Decimal, which `wire.py` writes as a JSON
number. The visit's department, doctor and diagnoses come from the payload's `visit`
(services/clinical.py); a payload queued before the counter knew them (issue 24) sends them empty.
Each fee line carries the national code in `med_list_codg` and the hospital's in
`medins_list_codg` (national-interface.md, "Fee lines").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import fields as F


class Unresolvable(Exception):
    """The message needs an id from an earlier answer that the centre never gave (e.g. the visit's
    registration was voided): it cannot be sent as it is."""


@dataclass(frozen=True)
class Ids:
    """What earlier answers of the same visit said: the visit's mdtrt_id, and for a cancel the
    original settlement's setl_id (and its mdtrt_id)."""

    mdtrt_id: str = ""
    setl_id: str = ""


def _need(value: str, what: str) -> str:
    if not value:
        raise Unresolvable(f"缺少{what}：前序报文未被中心接受")
    return value


def _visit(payload: dict[str, Any]) -> dict[str, Any]:
    return payload.get("visit") or {}


def _national(ln: dict[str, Any]) -> str:
    """The line's national code; a payload from before the mapping (0010) had only the hospital's."""
    return str(ln.get("national_code") or ln["code"])


def diseinfo(visit: dict[str, Any], at: str, *, stay_of: str = "") -> list[dict[str, Any]]:
    """`diseinfo[]`: one record per diagnosis, the first the main one (diag_type 1, western
    medicine), by the visit's department and doctor. 2203's records carry vali_flag; a stay's
    (2401/2402, `stay_of` the psn_no) carry psn_no and maindiag_flag instead (fields.py)."""
    out = []
    for n, d in enumerate(visit.get("diagnoses") or (), 1):
        record: dict[str, Any] = {"psn_no": stay_of} if stay_of else {}
        record["diag_type"] = "1"
        if stay_of:
            record["maindiag_flag"] = "1" if n == 1 else "0"
        record.update(
            diag_srt_no=n,
            diag_code=d["code"],
            diag_name=d["name"],
            diag_dept=visit.get("dept_name", ""),
            dise_dor_no=visit.get("doctor_code", ""),
            dise_dor_name=visit.get("doctor_name", ""),
            diag_time=at,
        )
        if not stay_of:
            record["vali_flag"] = "1"
        out.append(record)
    return out


def _main_diagnosis(visit: dict[str, Any]) -> tuple[str, str]:
    first = (visit.get("diagnoses") or [{}])[0]
    return str(first.get("code", "")), str(first.get("name", ""))


def _fee_line(ln: dict[str, Any], visit: dict[str, Any], **node: Any) -> dict[str, Any]:
    """One fee line of 2204 or 2301: what both carry (the two codes, amount, quantity, price, the
    ordering department and doctor) with the transaction's own fields in `node`."""
    return {
        "feedetl_sn": ln["feedetl_sn"],
        **node,
        "fee_ocur_time": ln["fee_ocur_time"],
        "med_list_codg": _national(ln),
        "medins_list_codg": ln["code"],
        "det_item_fee_sumamt": Decimal(ln["amount"]),
        "cnt": Decimal(ln["cnt"]),
        "pric": Decimal(ln["pric"]),
        "bilg_dept_codg": visit.get("dept_code", ""),
        "bilg_dept_name": visit.get("dept_name", ""),
        "bilg_dr_codg": visit.get("doctor_code", ""),
        "bilg_dr_name": visit.get("doctor_name", ""),
    }


def _fee_lines(payload: dict[str, Any], mdtrt_id: str) -> list[dict[str, Any]]:
    """2204's lines: by charge batch, with the outside-prescription flag."""
    visit = _visit(payload)
    return [
        {
            **_fee_line(
                ln,
                visit,
                mdtrt_id=mdtrt_id,
                psn_no=payload["psn_no"],
                chrg_bchno=payload["chrg_bchno"],
                rxno="",
                rx_circ_flag=ln.get("rx_circ_flag", "0"),
            ),
            "hosp_appr_flag": "1",
        }
        for ln in payload["lines"]
    ]


def _scope(setl: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(setl[k]) for k in F.SCOPE_AMOUNTS}


def outpatient_settle(payload: dict[str, Any], mdtrt_id: str, *, final: bool) -> dict[str, Any]:
    """2207 (final) or 2206: the visit's totals; the centre answers the split."""
    setl = payload["setlinfo"]
    data = {
        "psn_no": payload["psn_no"],
        "mdtrt_cert_type": payload["cert_type"],
        "mdtrt_cert_no": payload["cert_no"],
        "med_type": payload["med_type"],
        "medfee_sumamt": Decimal(setl["medfee_sumamt"]),
        "psn_setlway": "01",
        "mdtrt_id": mdtrt_id,
        "chrg_bchno": payload["chrg_bchno"],
        "acct_used_flag": payload["acct_used_flag"],
        "insutype": payload["insutype"],
    }
    if final:
        data.update(invono=F.invono(payload["setl_no"]), **_scope(setl))
    return {"data": data}


def pharmacy_settle(payload: dict[str, Any]) -> dict[str, Any]:
    setl = payload["setlinfo"]
    visit = _visit(payload)
    dise_codg, dise_name = _main_diagnosis(visit)
    return {
        "druginfo": {
            "psn_no": payload["psn_no"],
            "mdtrt_cert_type": payload["cert_type"],
            "mdtrt_cert_no": payload["cert_no"],
            "begntime": payload["begntime"],
            "medfee_sumamt": Decimal(setl["medfee_sumamt"]),
            "insutype": payload["insutype"],
            "med_type": payload["med_type"],
            "acct_used_flag": payload["acct_used_flag"],
            "invono": F.invono(payload["setl_no"]),
            "dise_codg": dise_codg,
            "dise_name": dise_name,
        },
        "drugdetail": [
            {
                "feedetl_sn": ln["feedetl_sn"],
                "rxno": "",
                "rx_circ_flag": ln.get("rx_circ_flag", "0"),
                "fee_ocur_time": ln["fee_ocur_time"],
                "med_list_codg": _national(ln),
                "medins_list_codg": ln["code"],
                "det_item_fee_sumamt": Decimal(ln["amount"]),
                "cnt": Decimal(ln["cnt"]),
                "pric": Decimal(ln["pric"]),
                "bilg_dr_codg": visit.get("doctor_code", ""),
                "bilg_dr_name": visit.get("doctor_name", ""),
            }
            for ln in payload["lines"]
        ],
    }


def admission(payload: dict[str, Any]) -> dict[str, Any]:
    """2401: `mdtrtinfo` with the stay number (ipt_no), the admitting department and doctor, the
    admission diagnosis (also sent as the main discharge diagnosis until discharge names its
    own) and `diseinfo[]`. The bed is not known to the counter (fields.NOT_YET_KNOWN)."""
    visit = _visit(payload)
    code, name = _main_diagnosis(visit)
    info = {
        "psn_no": payload["psn_no"],
        "insutype": payload["insutype"],
        "mdtrt_cert_type": payload["cert_type"],
        "mdtrt_cert_no": payload["cert_no"],
        "med_type": payload.get("med_type", "21"),
        "begntime": payload["begntime"],
        "ipt_no": payload["adm_no"],
        "atddr_no": visit.get("doctor_code", ""),
        "chfpdr_name": visit.get("doctor_name", ""),
        "adm_diag_dscr": name,
        "adm_dept_codg": visit.get("dept_code", ""),
        "adm_dept_name": visit.get("dept_name", ""),
        "adm_bed": "",
        "dscg_maindiag_code": code,
        "dscg_maindiag_name": name,
    }
    return {"mdtrtinfo": info, "diseinfo": diseinfo(visit, payload["begntime"], stay_of=payload["psn_no"])}


def discharge(payload: dict[str, Any], *, mdtrt_id: str, endtime: str) -> dict[str, Any]:
    """2402: the node is `dscginfo` (four vendors agree), dscg_way 1 (ordinary)."""
    return {
        "dscginfo": {
            "mdtrt_id": mdtrt_id,
            "psn_no": payload["psn_no"],
            "insutype": payload["insutype"],
            "endtime": endtime,
            "dscg_dept_codg": _visit(payload).get("dept_code", ""),
            "dscg_dept_name": _visit(payload).get("dept_name", ""),
            "dscg_way": "1",
        },
        "diseinfo": diseinfo(_visit(payload), endtime, stay_of=payload["psn_no"]),
    }


def inpatient_settle(
    *,
    psn_no: str,
    insutype: str,
    cert_type: str,
    cert_no: str,
    mdtrt_id: str,
    invono: str,
    medfee_sumamt: Decimal,
    scope: dict[str, Decimal],
    use_account: bool,
    interim: bool,
) -> dict[str, Any]:
    """2303 / 2304: the stay's totals; the centre answers its fund payment and the personal part."""
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": cert_type,
            "mdtrt_cert_no": cert_no,
            "medfee_sumamt": medfee_sumamt,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": insutype,
            "acct_used_flag": "1" if use_account else "0",
            "mid_setl_flag": "1" if interim else "0",
            "invono": F.invono(invono),
            **{k: scope[k] for k in F.SCOPE_AMOUNTS},
        }
    }


def build(infno: str, payload: dict[str, Any], ids: Ids) -> dict[str, Any]:
    """The `input` of one queued message."""
    psn_no = payload.get("psn_no", "")
    if infno == F.REGISTER:
        return {
            "data": {
                "psn_no": psn_no,
                "insutype": payload["insutype"],
                "begntime": payload["begntime"],
                "mdtrt_cert_type": payload["cert_type"],
                "mdtrt_cert_no": payload["cert_no"],
                "ipt_otp_no": payload["ipt_otp_no"],
                "atddr_no": _visit(payload).get("doctor_code", ""),
                "dr_name": _visit(payload).get("doctor_name", ""),
                "dept_code": _visit(payload).get("dept_code", ""),
                "dept_name": _visit(payload).get("dept_name", ""),
                "caty": _visit(payload).get("caty", ""),
            }
        }
    if infno == F.VISIT_INFO:
        visit = _visit(payload)
        code, name = _main_diagnosis(visit)
        return {
            "mdtrtinfo": {
                "mdtrt_id": _need(ids.mdtrt_id, "就诊ID"),
                "psn_no": psn_no,
                "med_type": payload["med_type"],
                "begntime": payload["begntime"],
                "main_cond_dscr": name,
                "dise_codg": code,
                "dise_name": name,
            },
            "diseinfo": diseinfo(visit, payload["begntime"]),
        }
    if infno == F.FEE_UPLOAD:
        return {"feedetail": _fee_lines(payload, _need(ids.mdtrt_id, "就诊ID"))}
    if infno == F.OUTPATIENT_SETTLE:
        return outpatient_settle(payload, _need(ids.mdtrt_id, "就诊ID"), final=True)
    if infno in (F.PHARMACY_SETTLE, F.PHARMACY_PRESETTLE):
        return pharmacy_settle(payload)
    if infno == F.OUTPATIENT_PRESETTLE:
        return outpatient_settle(payload, _need(ids.mdtrt_id, "就诊ID"), final=False)
    if infno in (F.OUTPATIENT_CANCEL, F.PHARMACY_CANCEL):
        return {
            "data": {"psn_no": psn_no, "setl_id": _need(ids.setl_id, "原结算ID"), "mdtrt_id": ids.mdtrt_id}
        }
    if infno == F.ADMIT:
        return admission(payload)
    if infno == F.INPATIENT_FEE_UPLOAD:
        mdtrt_id = _need(ids.mdtrt_id, "住院就诊ID")
        visit = _visit(payload)
        node = {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_type": payload["med_type"]}
        return {"feedetail": [_fee_line(ln, visit, **node) for ln in payload["lines"]]}
    if infno == F.INPATIENT_FEE_CANCEL:
        return {
            "data": {
                "feedetl_sn": payload["feedetl_sn"],
                "mdtrt_id": _need(ids.mdtrt_id, "住院就诊ID"),
                "psn_no": psn_no,
            }
        }
    if infno == F.REVERSAL:
        return {"data": {"psn_no": psn_no, "omsgid": payload["omsgid"], "oinfno": payload["oinfno"]}}
    raise Unresolvable(f"不会发送的交易 {infno}")
