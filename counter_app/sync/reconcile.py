"""Daily reconciliation with the centre: 3201 totals per insurance type; where they differ, the
detail by file (national-interface.md, "Reconciliation in detail"):

1. the day's settlements the centre has answered are written to a file (statement_file.py) and
   uploaded with 9101, which answers a `file_qury_no`;
2. 3202 names that file with the day's totals; its answer names a result file;
3. the result file is fetched with 9102: one line per settlement with the centre's verdict.

Settlements the centre has never answered (no setl_id yet) cannot be in the file: they are named
as not uploaded. Every message draws its msgid from the institution's counter (digits only) and
carries the operator's sign-in.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select

from .. import labels
from ..engine.money import ZERO, fmt
from ..store import Database
from ..store.models import CentreResult, Institution, Outbox, Person, Settlement
from . import answers, statement_file
from . import fields as F
from .client import BadAnswer, CentreClient
from .conversation import Conversation


@dataclass
class Difference:
    setl_no: str
    what: str


@dataclass
class InsutypeResult:
    insutype: str
    count: int
    sums: dict[str, Decimal]
    ties: bool
    centre_says: str
    differences: list[Difference] = field(default_factory=list)


@dataclass
class ReconcileReport:
    day: dt.date
    institution: str
    results: list[InsutypeResult]

    @property
    def ties(self) -> bool:
        return all(r.ties for r in self.results)


def _local(
    db: Database, institution_code: str, day: dt.date
) -> tuple[Institution, dict[str, list[dict[str, Any]]]]:
    start = dt.datetime.combine(day, dt.time())
    with db.sessions() as s:
        inst = s.scalar(select(Institution).where(Institution.code == institution_code))
        if inst is None:
            raise LookupError(f"未知的定点机构编码：{institution_code}")
        rows = s.execute(
            select(
                Settlement,
                Person.insutype,
                Person.psn_no,
                func.coalesce(Outbox.msgid, CentreResult.msgid),
                CentreResult,
                Outbox.response,
            )
            .join(Person, Person.id == Settlement.person_id)
            .outerjoin(
                Outbox,
                and_(
                    Outbox.settlement_id == Settlement.id,
                    Outbox.infno.in_((*F.SETTLE_INFNOS, *F.CANCEL_INFNOS)),
                ),
            )
            .outerjoin(CentreResult, CentreResult.settlement_id == Settlement.id)
            .where(
                Settlement.institution_id == inst.id,
                Settlement.settled_at >= start,
                Settlement.settled_at < start + dt.timedelta(days=1),
            )
            .order_by(Settlement.id)
        ).all()
        s.expunge(inst)
    by_type: dict[str, list[dict[str, Any]]] = {}
    for row, insutype, psn_no, msgid, centre, response in rows:
        ids = _answered_ids(centre, response)
        by_type.setdefault(insutype, []).append(
            {
                "setl_no": row.setl_no,
                "msgid": msgid,
                "psn_no": psn_no,
                "refund": row.kind == "refund",
                **ids,
                "medfee_sumamt": row.medfee_sumamt,
                "fund_pay_sumamt": row.fund_pay_sumamt,
                "acct_pay": row.acct_pay,
                "psn_cash_pay": row.psn_cash_pay,
                "centre_differs": json.loads(centre.differences)
                if centre is not None and not centre.equal
                else None,
            }
        )
    return inst, by_type


def _answered_ids(centre: CentreResult | None, response: str | None) -> dict[str, str]:
    """The centre's setl_id and mdtrt_id for a settlement (from its compared result) or a refund
    (from the cancel's answer); empty when the centre has not answered it."""
    if centre is not None and centre.setl_id:
        return {"setl_id": centre.setl_id, "mdtrt_id": centre.mdtrt_id}
    try:
        info = answers.output(json.loads(response)).get("setlinfo") if response else None
    except (ValueError, answers.AnswerError):
        info = None
    if isinstance(info, dict):
        return {"setl_id": str(info.get("setl_id") or ""), "mdtrt_id": str(info.get("mdtrt_id") or "")}
    return {"setl_id": "", "mdtrt_id": ""}


def reconcile_day(
    db: Database,
    client: CentreClient,
    institution_code: str,
    day: dt.date,
    *,
    operator: str = "system",
    now: dt.datetime | None = None,
) -> ReconcileReport:
    inst, by_type = _local(db, institution_code, day)
    at = now or dt.datetime.now()
    talk = Conversation(db, client, inst, operator, at)
    results = []
    for insutype, records in sorted(by_type.items()):
        sums = {k: sum((r[k] for r in records), ZERO) for k in F.RECONCILE_AMOUNTS}
        data = {
            "insutype": insutype,
            "clr_type": "11",
            "setl_optins": inst.admdvs,
            "stmt_begndate": day.isoformat(),
            "stmt_enddate": day.isoformat(),
            "fixmedins_setl_cnt": len(records),
            **sums,
        }
        info = talk.send(F.RECONCILE_TOTALS, {"data": data})["stmtinfo"]
        results.append(
            InsutypeResult(
                insutype,
                len(records),
                sums,
                answers.text(info.get("stmt_rslt")) == "0",
                str(info.get("stmt_rslt_dscr") or ""),
            )
        )
    if not all(r.ties for r in results):
        every = [r for records in by_type.values() for r in records]
        named = _detail(talk, inst, day, every)
        kinds = {r["setl_no"]: t for t, records in by_type.items() for r in records}
        untied = next(r for r in results if not r.ties)  # the centre-only lines have no local insutype
        for difference in named:
            target = next((r for r in results if r.insutype == kinds.get(difference.setl_no)), untied)
            target.differences.append(difference)
    for result in results:
        named_here = {d.setl_no for d in result.differences}
        result.differences += [  # the centre computed these otherwise when they arrived (compare.py)
            Difference(
                r["setl_no"],
                "中心结算与本地不同："
                + "，".join(
                    f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {ours} 中心 {theirs}"
                    for k, (ours, theirs) in r["centre_differs"].items()
                ),
            )
            for r in by_type.get(result.insutype, [])
            if r["centre_differs"] and r["setl_no"] not in named_here
        ]
    return ReconcileReport(day, institution_code, results)


def _detail(
    talk: Conversation, inst: Institution, day: dt.date, records: list[dict[str, Any]]
) -> list[Difference]:
    """9101 the day's file, 3202 on it, 9102 the result: the settlements that differ, named."""
    answered = [r for r in records if r["setl_id"]]
    out = [Difference(r["setl_no"], "中心无此笔（未上传或被拒）") for r in records if not r["setl_id"]]
    filename = f"{inst.code}{day:%Y%m%d}.zip"
    content = statement_file.write(
        f"{inst.code}{day:%Y%m%d}.txt",
        statement_file.UPLOAD_COLUMNS,
        [{**r, "refd_setl_flag": "1" if r["refund"] else "0"} for r in answered],
    )
    upload = talk.send(
        F.FILE_UPLOAD,
        {
            "fsUploadIn": {
                "in": statement_file.encode(content),
                "filename": filename,
                "fixmedins_code": inst.code,
            }
        },
    )
    totals = {
        k: sum((r[k] for r in answered), ZERO) for k in ("medfee_sumamt", "fund_pay_sumamt", "psn_cash_pay")
    }
    detail = talk.send(
        F.RECONCILE_DETAIL,
        {
            "data": {
                "setl_optins": inst.admdvs,
                "file_qury_no": answers.text(upload["file_qury_no"]),
                "stmt_begndate": day.isoformat(),
                "stmt_enddate": day.isoformat(),
                "medfee_sumamt": totals["medfee_sumamt"],
                "fund_pay_sumamt": totals["fund_pay_sumamt"],
                "cash_payamt": totals["psn_cash_pay"],
                "fixmedins_setl_cnt": len(answered),
            }
        },
    )
    info = detail["fileinfo"]
    fetched = talk.download(answers.text(info["file_qury_no"]), answers.text(info.get("filename")))
    try:
        lines = statement_file.read(fetched, statement_file.RESULT_COLUMNS)
    except statement_file.BadFile as exc:
        raise BadAnswer(str(exc), {}) from None
    ours = {r["setl_id"]: r for r in answered}
    for line in lines:
        if line["stmt_rslt"] == "0":
            continue
        record = ours.get(line["setl_id"])
        what = line["memo"] or f"对账结果 {line['stmt_rslt']}"
        out.append(
            Difference(
                record["setl_no"] if record else f"中心 {line['setl_id']}",
                what if record else f"本地无此笔（仅中心有）：{what}",
            )
        )
    return out


def describe(report: ReconcileReport) -> str:
    lines = [f"{report.day} {report.institution} 对账：{'平' if report.ties else '不平'}"]
    for r in report.results:
        lines.append(
            f"  险种 {r.insutype}：{r.count} 笔，医疗费 {fmt(r.sums['medfee_sumamt'])}，"
            f"基金 {fmt(r.sums['fund_pay_sumamt'])}，账户 {fmt(r.sums['acct_pay'])} — {r.centre_says}"
        )
        lines += [f"    {d.setl_no}：{d.what}" for d in r.differences]
    return "\n".join(lines)
