"""Fund monitoring (WH-31, WH-32): per institution and month, the indicators the seed names and
the anomalies against the thresholds in `resources/monitoring/thresholds.toml`.

- Outpatient visits (settlements not refunded, inpatient types left out) and their growth on the
  month before (WH-31 "门诊结算人次增长快"); inpatient stays and the outpatient/inpatient ratio (WH-32).
- The share of pooling payments cut by the annual cap (WH-31 "按限额支付占比高"): among the
  month's outpatient settlements where the pooling formula gave something, those whose trace
  shows the cap rule of their policy pack (WH-16).
- Draws on each provider's account by bound relatives (family mutual aid), count and amount,
  net of refunds.
The months are business days' months, as in the declaration (WH-28).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ..engine.crediting import next_month, period_label, previous_month
from ..engine.money import ZERO, fmt, to_decimal
from ..policies import load_pack
from ..resources import resource_dir
from ..services.actor import Actor
from ..services.audit import record
from ..services.settlement import INPATIENT_MED_TYPES, SELF_PAY
from ..store import Database
from ..store.models import Account, FamilyBinding, Institution, LedgerEntry, Person, Settlement
from .runs import BatchError


@dataclass(frozen=True)
class Thresholds:
    visit_growth: Decimal
    min_previous: int
    cap_share: Decimal
    min_payments: int
    family_amount: Decimal
    family_count: int
    rules: dict[str, str]


@functools.cache
def load_thresholds() -> Thresholds:
    path = resource_dir() / "monitoring" / "thresholds.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Thresholds(
            visit_growth=to_decimal(data["visit_growth"]["max_growth"]),
            min_previous=int(data["visit_growth"]["min_previous"]),
            cap_share=to_decimal(data["cap_share"]["max_share"]),
            min_payments=int(data["cap_share"]["min_payments"]),
            family_amount=to_decimal(data["family_draws"]["max_amount"]),
            family_count=int(data["family_draws"]["max_count"]),
            rules={k: v["rule"] for k, v in data.items()},
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise BatchError(f"monitoring thresholds {path}: {exc!r}") from None


@dataclass
class ProviderDraws:
    psn_no: str
    name: str
    count: int = 0
    amount: Decimal = ZERO
    beneficiaries: set[str] = field(default_factory=set)


@dataclass
class InstitutionMonth:
    code: str
    name: str
    visits: int = 0
    previous_visits: int = 0
    inpatient_stays: int = 0
    pooling_payments: int = 0
    capped_payments: int = 0
    family: list[ProviderDraws] = field(default_factory=list)  # largest amount first

    @property
    def growth(self) -> Decimal | None:
        if not self.previous_visits:
            return None
        return (Decimal(self.visits - self.previous_visits) / self.previous_visits).quantize(
            Decimal("0.0001")
        )

    @property
    def cap_share(self) -> Decimal | None:
        if not self.pooling_payments:
            return None
        return (Decimal(self.capped_payments) / self.pooling_payments).quantize(Decimal("0.0001"))

    @property
    def outpatient_per_inpatient(self) -> Decimal | None:
        return (
            (Decimal(self.visits) / self.inpatient_stays).quantize(Decimal("0.01"))
            if self.inpatient_stays
            else None
        )


@dataclass(frozen=True)
class Anomaly:
    institution_code: str
    institution_name: str
    indicator: str  # visit_growth, cap_share, family_draws
    rule: str
    value: str
    threshold: str
    detail: str


# WH-32 indicators the counter cannot compute, and the data each would need: said, never guessed.
NOT_MEASURED = (
    (
        "WH-32",
        "大型设备检查阳性率",
        "需要检查结果（阳性/阴性）数据，收费系统不持有；请由医院信息系统或影像系统提供",
    ),
    ("WH-32", "医保目录药品配备率、使用率", "需要机构药品配备与采购数据，收费系统只有收费目录与结算明细"),
)


@dataclass(frozen=True)
class OverLimit:
    """A provider whose active bindings under one policy exceed that policy's limits (HF-6, WH-8 (2))."""

    psn_no: str
    name: str
    policy: str
    relation: str  # or "total"
    count: int
    limit: int
    rule: str


def over_limit_bindings(session: Session) -> list[OverLimit]:
    """Active bindings counted per provider, policy and relation against the policy's limits. Bindings
    made before bindings recorded their policy (NULL) are not counted: no policy to judge them by."""
    rows = session.execute(
        select(Person.psn_no, Person.name, FamilyBinding.policy, FamilyBinding.relation, func.count())
        .join(Person, Person.id == FamilyBinding.provider_id)
        .where(FamilyBinding.ended_at.is_(None), FamilyBinding.policy.is_not(None))
        .group_by(Person.psn_no, Person.name, FamilyBinding.policy, FamilyBinding.relation)
    ).all()
    totals: dict[tuple[str, str, str], int] = {}
    out = []
    for psn_no, name, policy, relation, count in rows:
        rules = load_pack(policy).family
        totals[(psn_no, name, policy)] = totals.get((psn_no, name, policy), 0) + count
        if rules.max_per_relation and count > rules.max_per_relation.get(relation, count):
            out.append(
                OverLimit(
                    psn_no,
                    name,
                    policy,
                    relation,
                    count,
                    rules.max_per_relation[relation],
                    rules.limits_rule or "",
                )
            )
    for (psn_no, name, policy), count in totals.items():
        rules = load_pack(policy).family
        if rules.max_total is not None and count > rules.max_total:
            out.append(
                OverLimit(psn_no, name, policy, "total", count, rules.max_total, rules.limits_rule or "")
            )
    return sorted(out, key=lambda o: (o.psn_no, o.relation))


@dataclass
class MonitoringReport:
    month: dt.date
    institutions: list[InstitutionMonth]
    anomalies: list[Anomaly]
    history: dict[
        str, list[tuple[dt.date, int]]
    ]  # institution code -> (month, outpatient visits), oldest first
    thresholds: Thresholds
    over_limit: list[OverLimit] = field(default_factory=list)  # providers bound beyond their policy's limits

    @property
    def period(self) -> str:
        return period_label(self.month)

    @property
    def not_measured(self) -> tuple[tuple[str, str, str], ...]:
        """(rule, indicator, what data it needs) for the WH-32 indicators this report cannot give."""
        return NOT_MEASURED


def _months_back(month: dt.date, n: int) -> list[dt.date]:
    months = [month]
    for _ in range(n - 1):
        months.append(previous_month(months[-1]))
    return months[::-1]


def monitor_month(
    db: Database, actor: Actor, month: dt.date, *, history_months: int = 12
) -> MonitoringReport:
    """WH-31/32 for `month`; the run is audited."""
    actor.require("batch")
    month = month.replace(day=1)
    t = load_thresholds()
    refund = aliased(Settlement)
    not_refunded = ~select(refund.id).where(refund.reverses_id == Settlement.id).exists()
    with db.sessions() as session:
        insts = list(session.scalars(select(Institution).order_by(Institution.code)))
        by_id = {i.id: InstitutionMonth(i.code, i.name) for i in insts}

        def visits_in(m: dt.date, inpatient: bool = False) -> dict[int, int]:
            types = Settlement.med_type.in_(INPATIENT_MED_TYPES)
            return dict(
                session.execute(
                    select(Settlement.institution_id, func.count())
                    .where(
                        Settlement.kind == "settle",
                        Settlement.policy != SELF_PAY,  # not the fund's: no visit of the insurance
                        Settlement.business_day >= m,
                        Settlement.business_day < next_month(m),
                        types if inpatient else ~types,
                        not_refunded,
                    )
                    .group_by(Settlement.institution_id)
                )
                .tuples()
                .all()
            )

        months = _months_back(month, history_months)
        counts = {m: visits_in(m) for m in months}
        previous = visits_in(previous_month(month))
        stays = visits_in(month, inpatient=True)
        for iid, row in by_id.items():
            row.visits, row.previous_visits = counts[month].get(iid, 0), previous.get(iid, 0)
            row.inpatient_stays = stays.get(iid, 0)
        first = next((i for i, m in enumerate(months) if any(counts[m].values())), len(months) - 1)
        months = months[first:]  # from the first month with any settlement: no flat line before the data
        history = {by_id[iid].code: [(m, counts[m].get(iid, 0)) for m in months] for iid in by_id}

        # The cap share: parse the engine's answer of each outpatient settlement with pooling due.
        for iid, policy, result_json in session.execute(
            select(Settlement.institution_id, Settlement.policy, Settlement.result_json).where(
                Settlement.kind == "settle",
                Settlement.policy != SELF_PAY,
                Settlement.business_day >= month,
                Settlement.business_day < next_month(month),
                ~Settlement.med_type.in_(INPATIENT_MED_TYPES),
                not_refunded,
            )
        ):
            result = json.loads(result_json)
            if not result["pooling"]["applies"]:
                continue
            cap_rule = _cap_rule(policy)
            capped = any(step["rule"] == cap_rule for step in result["trace"])
            if Decimal(result["hifp_pay"]) > 0 or capped:
                by_id[iid].pooling_payments += 1
                by_id[iid].capped_payments += capped

        # Family draws per provider: ledger entries of kind mulaid (and their refunds) at each institution.
        provider, patient = aliased(Person), aliased(Person)
        draws: dict[tuple[int, int], ProviderDraws] = {}
        for iid, p_id, p_no, p_name, b_no, amount, kind in session.execute(
            select(
                Settlement.institution_id,
                provider.id,
                provider.psn_no,
                provider.name,
                patient.psn_no,
                LedgerEntry.amount,
                Settlement.kind,
            )
            .join(Settlement, Settlement.id == LedgerEntry.settlement_id)
            .join(Account, Account.id == LedgerEntry.account_id)
            .join(provider, provider.id == Account.person_id)
            .join(patient, patient.id == Settlement.person_id)
            .where(
                Settlement.business_day >= month,
                Settlement.business_day < next_month(month),
                Account.person_id != Settlement.person_id,
            )
        ):
            d = draws.setdefault((iid, p_id), ProviderDraws(p_no, p_name))
            d.amount -= amount
            d.count += 1 if kind == "settle" else -1
            d.beneficiaries.add(b_no)
        for (iid, _), d in draws.items():
            if d.count > 0:
                by_id[iid].family.append(d)
        for row in by_id.values():
            row.family.sort(key=lambda d: (-d.amount, d.psn_no))
        beyond = over_limit_bindings(session)

    rows = list(by_id.values())
    report = MonitoringReport(month, rows, _anomalies(rows, t), history, t, beyond)
    with db.transaction() as session:
        record(
            session,
            actor,
            "monitoring",
            period_label(month),
            at=dt.datetime.now(),
            after={"anomalies": len(report.anomalies)},
        )
    return report


@functools.cache
def _cap_rule(policy: str) -> str | None:
    pools = load_pack(policy).outpatient_pool
    return pools[-1].annual_cap.rule if pools else None


def _pct(value: Decimal) -> str:
    return f"{value * 100:.1f}%"


def _anomalies(rows: list[InstitutionMonth], t: Thresholds) -> list[Anomaly]:
    found = []
    for r in rows:
        if r.previous_visits >= t.min_previous and r.growth is not None and r.growth > t.visit_growth:
            found.append(
                Anomaly(
                    r.code,
                    r.name,
                    "visit_growth",
                    t.rules["visit_growth"],
                    _pct(r.growth),
                    _pct(t.visit_growth),
                    f"门诊结算人次 {r.previous_visits} → {r.visits}",
                )
            )
        if r.pooling_payments >= t.min_payments and r.cap_share is not None and r.cap_share > t.cap_share:
            found.append(
                Anomaly(
                    r.code,
                    r.name,
                    "cap_share",
                    t.rules["cap_share"],
                    _pct(r.cap_share),
                    _pct(t.cap_share),
                    f"按限额支付 {r.capped_payments} / 统筹支付 {r.pooling_payments} 笔",
                )
            )
        for d in r.family:
            if d.amount > t.family_amount or d.count > t.family_count:
                found.append(
                    Anomaly(
                        r.code,
                        r.name,
                        "family_draws",
                        t.rules["family_draws"],
                        f"{d.count} 笔 / {fmt(d.amount)} 元",
                        f"{t.family_count} 笔 / {fmt(t.family_amount)} 元",
                        f"共济账户 {d.psn_no} {d.name}，受益人 {len(d.beneficiaries)} 人",
                    )
                )
    return found


INDICATOR_LABELS = {
    "visit_growth": "门诊结算人次增长",
    "cap_share": "按限额支付占比",
    "family_draws": "家庭共济支取",
}
