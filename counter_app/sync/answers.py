"""Reading the centre's answers as the platform writes them (national-interface.md, "Reading an
answer"), and refusing to record one that does not hold together.

- `infcode` is read by value: the number 0 or the text "0" is success; anything else, or none at
  all, is a failure whose reason is `err_msg` (or `message`, as the e-voucher service says it).
- An amount may come as an integer, a decimal, `null` or `""`: the last two mean "not given".
- Before anything is recorded, an answer is checked for what the message it answers needs: the
  nodes are objects, the ids are there, its `psn_no` (and `mdtrt_id`) are the ones the request
  named, its amounts are amounts and the settlement's identities hold. A failed check is a
  `AnswerError`: the message is parked with the reason, never recorded as done.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from . import fields as F


class AnswerError(Exception):
    """The centre said success, but its answer cannot be recorded as it is; the text says why."""


def succeeded(body: dict[str, Any]) -> bool:
    """infcode 0, as a JSON number or as text (both are seen from real centres)."""
    code = body.get("infcode")
    if isinstance(code, bool):
        return False
    if isinstance(code, int):
        return code == 0
    if isinstance(code, Decimal):
        return code == 0
    return isinstance(code, str) and code.strip() == "0"


def reason(body: dict[str, Any]) -> str:
    """Why the centre said no: its err_msg, else the e-voucher service's message, else the code."""
    for key in ("err_msg", "message", "warn_msg"):
        text = body.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()[:300]
    if "infcode" not in body:
        return "应答没有 infcode"
    return f"infcode {str(body.get('infcode'))[:20]}"


def amount(value: Any, name: str = "金额") -> Decimal | None:
    """An amount as the platform writes it: None when not given (null or ""), else its Decimal;
    anything that is not a number is a AnswerError naming the field."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal, str)):
        raise AnswerError(f"{name} 应为数值，收到 {type(value).__name__}")
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise AnswerError(f"{name} 应为数值，收到 {str(value)[:20]!r}") from None
    if not number.is_finite():
        raise AnswerError(f"{name} 应为有限数值，收到 {str(value)[:20]!r}")
    return number


def count(value: Any, name: str) -> int | None:
    """A count as the platform writes it (a number, or its digits as text); None when not given."""
    number = amount(value, name)
    if number is None:
        return None
    if number != number.to_integral_value() or number < 0:
        raise AnswerError(f"{name} 应为非负整数，收到 {str(value)[:20]!r}")
    return int(number)


def text(value: Any) -> str:
    """An id or code as text: numbers are taken as their digits, null as ""."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise AnswerError(f"编号应为字符串，收到 {type(value).__name__}")
    return str(value).strip()


def node(container: dict[str, Any], name: str, *, required: bool = True) -> dict[str, Any]:
    """A node that must be an object (`{}` when optional and absent)."""
    value = container.get(name)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        shown = "缺失" if value is None else f"应为对象，收到 {type(value).__name__}"
        raise AnswerError(f"应答 {name} {shown}")
    return value


def records(container: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """A list node; a single object is taken as a list of one (sources model some both ways)."""
    value = container.get(name)
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise AnswerError(f"应答 {name} 应为对象数组")
    return value


def output(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("output")
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise AnswerError(f"应答 output 应为对象，收到 {type(value).__name__}")
    return value


def amounts(setlinfo: dict[str, Any]) -> dict[str, Decimal | None]:
    """Every settlement amount the counter reads, None where not given."""
    return {k: amount(setlinfo.get(k), k) for k in F.SETL_AMOUNTS}


def _identities(values: dict[str, Decimal | None]) -> list[str]:
    """The settlement identities (national-interface.md) where all their parts were given."""
    v = values
    out = []

    def holds(total: str, parts: tuple[str, ...]) -> None:
        given = [v.get(p) for p in parts]
        whole = v.get(total)
        if whole is None or None in given:
            return
        if whole != sum((g for g in given if g is not None), Decimal(0)):
            out.append(f"{total} ≠ {' + '.join(parts)}")

    holds("medfee_sumamt", ("fund_pay_sumamt", "psn_part_amt"))
    holds("psn_part_amt", ("acct_pay", "psn_cash_pay"))
    holds("medfee_sumamt", F.SCOPE_AMOUNTS)
    mulaid, acct = v.get("acct_mulaid_pay"), v.get("acct_pay")
    if mulaid is not None and acct is not None and abs(mulaid) > abs(acct):
        out.append("acct_mulaid_pay 超过 acct_pay（共济支付含在账户支付内）")
    return out


def _ids_belong(answer: dict[str, Any], request: dict[str, Any], where: str) -> None:
    """The answer's psn_no and mdtrt_id, where it gives them, are the request's."""
    for key in ("psn_no", "mdtrt_id"):
        asked, got = text(request.get(key)), text(answer.get(key))
        if asked and got and asked != got:
            raise AnswerError(
                f"{where}.{key} {got[:30]} 不是本报文的 {asked[:30]}（可能是另一位参保人的应答）"
            )


def request_data(infno: str, given: dict[str, Any]) -> dict[str, Any]:
    """The record of the request that names the person and visit."""
    for name in ("data", "druginfo", "mdtrtinfo", "dscginfo"):
        value = given.get(name)
        if isinstance(value, dict):
            return value
    return {}


def setlinfo(
    body: dict[str, Any], request: dict[str, Any], *, profile: str = "national", settled: bool = True
) -> dict[str, Any]:
    """The settlement an answer carries, checked: ids present (a settlement's setl_id; a
    pre-settlement has none) and the request's, amounts numbers, identities holding. Raises
    AnswerError."""
    from . import hefei_names

    info = hefei_names.normalise(node(output(body), "setlinfo"), profile)
    if settled and not text(info.get("setl_id")):
        raise AnswerError("应答 setlinfo.setl_id 缺失")
    _ids_belong(info, request, "setlinfo")
    wrong = _identities(amounts(info))
    if wrong:
        raise AnswerError("应答结算金额不自洽：" + "；".join(wrong))
    return info


def check(infno: str, given: Any, body: dict[str, Any], *, profile: str = "national") -> None:
    """Raise AnswerError unless a success answer to `infno` (whose input was `given`) can be recorded."""
    out = output(body)
    request = request_data(infno, given if isinstance(given, dict) else {})
    if infno == F.REGISTER:
        data = node(out, "data")
        if not text(data.get("mdtrt_id")):
            raise AnswerError("应答 data.mdtrt_id 缺失")
        _ids_belong({"psn_no": data.get("psn_no")}, request, "data")
    elif infno == F.ADMIT:
        result = node(out, "result")
        if not text(result.get("mdtrt_id")):
            raise AnswerError("应答 result.mdtrt_id 缺失")
    elif infno in (*F.SETTLE_INFNOS, F.OUTPATIENT_PRESETTLE, F.INPATIENT_PRESETTLE, F.PHARMACY_PRESETTLE):
        setlinfo(body, request, profile=profile, settled=infno in F.SETTLE_INFNOS)
        for n, detail in enumerate(records(out, "setldetail")):
            amount(detail.get("fund_payamt"), f"setldetail[{n}].fund_payamt")
    elif infno in F.CANCEL_INFNOS:
        if out.get("setlinfo") is not None:
            info = node(out, "setlinfo")
            _ids_belong(
                info, {"psn_no": request.get("psn_no"), "mdtrt_id": request.get("mdtrt_id")}, "setlinfo"
            )
            wrong = _identities(amounts(info))
            if wrong:
                raise AnswerError("应答结算金额不自洽：" + "；".join(wrong))
    elif infno == F.SIGN_IN:
        sign_no = text(node(out, "signinoutb").get("sign_no"))
        if not sign_no or len(sign_no) > 30:
            raise AnswerError("应答 signinoutb.sign_no 缺失或超过 30 位")
    elif infno == F.PERSON_INFO:
        base = node(out, "baseinfo")
        if not text(base.get("psn_no")):
            raise AnswerError("应答 baseinfo.psn_no 缺失")
        for n, rec in enumerate(records(out, "insuinfo")):
            amount(rec.get("balc"), f"insuinfo[{n}].balc")
        records(out, "idetinfo")
    elif infno in (F.FEE_UPLOAD, F.INPATIENT_FEE_UPLOAD):
        for n, line in enumerate(records(out, "result")):
            for key in (
                "det_item_fee_sumamt",
                "pric_uplmt_amt",
                "fulamt_ownpay_amt",
                "overlmt_amt",
                "preselfpay_amt",
                "inscp_scp_amt",
                "selfpay_prop",
            ):
                amount(line.get(key), f"result[{n}].{key}")
    elif infno == F.RECONCILE_TOTALS:
        if not text(node(out, "stmtinfo").get("stmt_rslt")):
            raise AnswerError("应答 stmtinfo.stmt_rslt 缺失")
    elif infno in (F.RECONCILE_DETAIL,):
        if not text(node(out, "fileinfo").get("file_qury_no")):
            raise AnswerError("应答 fileinfo.file_qury_no 缺失")
    elif infno == F.FILE_UPLOAD and not text(out.get("file_qury_no")):
        raise AnswerError("应答 file_qury_no 缺失")
    elif infno in F.CATALOGUE_DOWNLOADS:
        if not text(out.get("file_qury_no")) or not text(out.get("filename")):
            raise AnswerError("应答 file_qury_no 或 filename 缺失")
        count(out.get("data_cnt"), "data_cnt")
    elif infno in F.TERM_QUERIES:
        if not isinstance(out.get("data"), list) or not all(isinstance(r, dict) for r in out["data"]):
            raise AnswerError("应答 data 应为记录数组")
        for key in ("recordCounts", "pages", "pageNum"):
            count(out.get(key), key)
