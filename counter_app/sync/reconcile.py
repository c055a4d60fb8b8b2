"""Daily reconciliation with the centre (3201 totals; 3202 detail when they differ).

For one day and institution, the local settlements and refunds are summed per insurance type
(count, medical fees, fund payment, account payment) and sent as 3201. Where the centre's totals
differ, 3202 fetches its list of that day and the settlements that differ are named: only here,
only there, or with different amounts.
"""
from __future__ import annotations

import datetime as dt
import json

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import and_, func, select

from ..engine.money import ZERO, fmt
from ..store import Database
from .. import labels
from ..store.models import CentreResult, Institution, Outbox, Person, Settlement
from . import fields as F
from .client import CentreClient


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


def _local(db: Database, institution_code: str, day: dt.date) -> tuple[Institution, dict[str, list[dict]]]:
    start = dt.datetime.combine(day, dt.time())
    with db.sessions() as s:
        inst = s.scalar(select(Institution).where(Institution.code == institution_code))
        if inst is None:
            raise LookupError(f"未知的定点机构编码：{institution_code}")
        rows = s.execute(
            select(Settlement, Person.insutype, func.coalesce(Outbox.msgid, CentreResult.msgid), CentreResult)
            .join(Person, Person.id == Settlement.person_id)
            .outerjoin(Outbox, and_(Outbox.settlement_id == Settlement.id,
                                    Outbox.infno.in_((*F.SETTLE_INFNOS, *F.CANCEL_INFNOS))))
            .outerjoin(CentreResult, CentreResult.settlement_id == Settlement.id)
            .where(Settlement.institution_id == inst.id, Settlement.settled_at >= start,
                   Settlement.settled_at < start + dt.timedelta(days=1))
            .order_by(Settlement.id)).all()
    by_type: dict[str, list[dict]] = {}
    for row, insutype, msgid, centre in rows:
        by_type.setdefault(insutype, []).append({
            "setl_no": row.setl_no, "msgid": msgid, "medfee_sumamt": row.medfee_sumamt,
            "fund_pay_sumamt": row.fund_pay_sumamt, "acct_pay": row.acct_pay,
            "centre_differs": json.loads(centre.differences) if centre is not None and not centre.equal else None})
    return inst, by_type


def reconcile_day(db: Database, client: CentreClient, institution_code: str, day: dt.date,
                  *, operator: str = "system", now: dt.datetime | None = None) -> ReconcileReport:
    inst, by_type = _local(db, institution_code, day)
    at = now or dt.datetime.now()
    results = []
    for n, (insutype, records) in enumerate(sorted(by_type.items())):
        sums = {k: sum((r[k] for r in records), ZERO) for k in F.RECONCILE_AMOUNTS}
        data = {"insutype": insutype, "clr_type": "11", "setl_optins": inst.admdvs,
                "stmt_begndate": day.isoformat(), "stmt_enddate": day.isoformat(),
                "fixmedins_setl_cnt": len(records), **sums}
        answer = client.send(_envelope(inst, F.RECONCILE_TOTALS, at, n, operator, data))
        info = answer["output"]["stmtinfo"]
        result = InsutypeResult(insutype, len(records), sums, info["stmt_rslt"] == "0", info["stmt_rslt_dscr"])
        if not result.ties:
            detail = client.send(_envelope(inst, F.RECONCILE_DETAIL, at, n, operator, data))
            result.differences = _differences(records, detail["output"]["records"])
        named = {d.setl_no for d in result.differences}
        result.differences += [  # the centre computed these otherwise when they arrived (compare.py)
            Difference(r["setl_no"], "中心结算与本地不同：" + "，".join(
                f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {ours} 中心 {theirs}" for k, (ours, theirs) in r["centre_differs"].items()))
            for r in records if r["centre_differs"] and r["setl_no"] not in named]
        results.append(result)
    return ReconcileReport(day, institution_code, results)


def _envelope(inst: Institution, infno: str, at: dt.datetime, n: int, operator: str, data: dict) -> dict:
    # reconciliation's own ids: a letter where settlement msgids have digits, so they never collide
    msgid = f"{inst.code:<12.12}{at:%Y%m%d%H%M%S}{'T' if infno == F.RECONCILE_TOTALS else 'D'}{n % 1000:03d}"
    return F.envelope(infno=infno, msgid=msgid, institution_code=inst.code, institution_name=inst.name,
                      admdvs=inst.admdvs, operator=operator, operator_name=operator, at=at, input={"data": data})


def _differences(local: list[dict], centre: list[dict]) -> list[Difference]:
    theirs = {r["medins_setl_id"]: r for r in centre}
    ours = {r["msgid"]: r for r in local}
    out = []
    for msgid, record in ours.items():
        other = theirs.get(msgid)
        if other is None:
            out.append(Difference(record["setl_no"], "中心无此笔（未上传或被拒）"))
            continue
        unequal = [k for k in F.RECONCILE_AMOUNTS if Decimal(other[k]) != record[k]]
        if unequal:
            out.append(Difference(record["setl_no"], "金额不符：" + "，".join(
                f"{labels.AMOUNT_NAMES.get(k, k)} 本地 {fmt(record[k])} 中心 {fmt(Decimal(other[k]))}" for k in unequal)))
    for msgid, record in theirs.items():
        if msgid not in ours:
            out.append(Difference(record["setl_no"], "本地无此笔（仅中心有）"))
    return out


def describe(report: ReconcileReport) -> str:
    lines = [f"{report.day} {report.institution} 对账：{'平' if report.ties else '不平'}"]
    for r in report.results:
        lines.append(f"  险种 {r.insutype}：{r.count} 笔，医疗费 {fmt(r.sums['medfee_sumamt'])}，"
                     f"基金 {fmt(r.sums['fund_pay_sumamt'])}，账户 {fmt(r.sums['acct_pay'])} — {r.centre_says}")
        lines += [f"    {d.setl_no}：{d.what}" for d in r.differences]
    return "\n".join(lines)



