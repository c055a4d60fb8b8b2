"""The monthly declaration (WH-28): what an institution asks the agency to settle for a month.

Per institution and month (by business day, so a settlement after a day close falls where the
close put it): counts and sums of the account deductions, own and family, and of the fund
payments, by medical type, settlements and refunds each on their own line and netted in the
total. The account deductions are checked against the ledger entries the same settlements
wrote; `ties` says whether they agree to the cent, and a declaration that does not tie is shown
as such rather than adjusted.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from ..engine.crediting import next_month, period_label
from ..engine.money import ZERO, fmt
from ..labels import MED_TYPE
from ..services.actor import Actor
from ..services.audit import record
from ..services.ledger import MULAID_KINDS
from ..services.settlement import SELF_PAY
from ..store import Database
from ..store.models import Account, Institution, LedgerEntry, Person, Settlement
from .runs import BatchError

AMOUNTS = ("medfee", "fund", "own_account", "family_account", "cash")


@dataclass
class Line:
    """Counts and sums of one group of settlements (refund amounts are negative)."""

    med_type: str
    kind: str  # settle, refund, or "" for the total
    count: int = 0
    medfee: Decimal = ZERO
    fund: Decimal = ZERO
    own_account: Decimal = ZERO
    family_account: Decimal = ZERO
    cash: Decimal = ZERO

    def add(self, row: Settlement) -> None:
        self.count += 1
        self.medfee += row.medfee_sumamt
        self.fund += row.fund_pay_sumamt
        self.own_account += row.acct_pay - row.acct_mulaid_pay
        self.family_account += row.acct_mulaid_pay
        self.cash += row.psn_cash_pay

    @property
    def accounts(self) -> Decimal:
        return self.own_account + self.family_account


@dataclass
class Declaration:
    institution_code: str
    institution_name: str
    month: dt.date
    lines: list[Line] = field(default_factory=list)
    settled: Line = field(default_factory=lambda: Line("", "settle"))  # every settlement of the month
    refunded: Line = field(default_factory=lambda: Line("", "refund"))  # every refund (negative amounts)
    total: Line = field(
        default_factory=lambda: Line("", "")
    )  # the net: amounts netted, count = settled - refunded
    settlements: list[Settlement] = field(default_factory=list)
    ledger_own: Decimal = ZERO  # deductions from the patients' own accounts, from the ledger
    ledger_family: Decimal = ZERO  # deductions from family providers' accounts, from the ledger
    people: dict[int, tuple[str, str]] = field(default_factory=dict)  # person id -> (psn_no, name)
    originals: dict[int | None, str] = field(
        default_factory=dict
    )  # settlement id -> setl_no a refund reverses

    @property
    def summary_lines(self) -> list[Line]:
        """By medical type and kind, then all settlements, all refunds, and the net."""
        return [*self.lines, self.settled, self.refunded, self.total]

    @property
    def period(self) -> str:
        return period_label(self.month)

    @property
    def ties(self) -> bool:
        return self.ledger_own == self.total.own_account and self.ledger_family == self.total.family_account


def institutions(db: Database) -> list[tuple[str, str]]:
    """(code, name) of every institution, for choosing whose declaration to make."""
    with db.sessions() as session:
        return [
            tuple(r)
            for r in session.execute(select(Institution.code, Institution.name).order_by(Institution.code))
        ]


def monthly_declaration(db: Database, actor: Actor, institution_code: str, month: dt.date) -> Declaration:
    """WH-28: the institution's month, tied to the ledger; the run is audited."""
    actor.require("batch")
    month = month.replace(day=1)
    with db.sessions() as session:
        inst = session.scalar(select(Institution).where(Institution.code == institution_code))
        if inst is None:
            raise BatchError(f"unknown institution code {institution_code!r}")
        decl = Declaration(inst.code, inst.name, month)
        rows = list(
            session.scalars(
                select(Settlement)
                .where(
                    Settlement.institution_id == inst.id,
                    Settlement.policy != SELF_PAY,  # a self-pay visit claims nothing from the fund
                    Settlement.business_day >= month,
                    Settlement.business_day < next_month(month),
                )
                .order_by(Settlement.business_day, Settlement.id)
            )
        )
        decl.settlements = rows
        groups: dict[tuple[str, str], Line] = {}
        for row in rows:
            groups.setdefault((row.med_type, row.kind), Line(row.med_type, row.kind)).add(row)
            decl.total.add(row)
            (decl.settled if row.kind == "settle" else decl.refunded).add(row)
        decl.total.count = decl.settled.count - decl.refunded.count  # a refund takes back one settlement
        decl.lines = [groups[k] for k in sorted(groups)]
        owner_of = {s.id: s.person_id for s in rows}
        ids = list(owner_of)
        for start in range(0, len(ids), 500):  # bounded IN lists on both databases
            chunk = rows[start : start + 500]
            decl.people.update(
                (i, (p, n))
                for i, p, n in session.execute(
                    select(Person.id, Person.psn_no, Person.name).where(
                        Person.id.in_({s.person_id for s in chunk})
                    )
                )
            )
            decl.originals.update(
                session.execute(
                    select(Settlement.id, Settlement.setl_no).where(
                        Settlement.id.in_({s.reverses_id for s in chunk if s.reverses_id})
                    )
                )
                .tuples()
                .all()
            )
            for settlement_id, person_id, amount, kind in session.execute(
                select(LedgerEntry.settlement_id, Account.person_id, LedgerEntry.amount, LedgerEntry.kind)
                .join(Account, Account.id == LedgerEntry.account_id)
                .where(LedgerEntry.settlement_id.in_(ids[start : start + 500]))
            ):  # the entry's kind classes it, as the settlement does: the self case is mutual aid
                if person_id == owner_of[settlement_id] and kind not in MULAID_KINDS:
                    decl.ledger_own -= amount
                else:
                    decl.ledger_family -= amount
    with db.transaction() as session:
        record(
            session,
            actor,
            "declaration",
            f"{inst.code} {period_label(month)}",
            at=dt.datetime.now(),
            after={"settlements": len(rows)},
        )
    return decl


SUMMARY_HEADER = [
    "机构编码",
    "机构名称",
    "申报月份",
    "医疗类别",
    "类别名称",
    "业务",
    "笔数",
    "医疗费总额",
    "基金支付",
    "个人账户支付（本人）",
    "家庭共济支付",
    "现金支付",
]
DETAIL_HEADER = [
    "结算单号",
    "业务",
    "原结算单号",
    "营业日",
    "结算时间",
    "医疗类别",
    "人员编号",
    "姓名",
    "医疗费总额",
    "基金支付",
    "个人账户支付（本人）",
    "家庭共济支付",
    "现金支付",
    "收费员",
    "审批人",
]
KIND_LABELS = {"settle": "结算", "refund": "退费", "": "净额"}


def _summary_row(decl: Declaration, line: Line) -> list[str]:
    return [
        decl.institution_code,
        decl.institution_name,
        decl.period,
        line.med_type,
        MED_TYPE.get(line.med_type, "") if line.med_type else "合计",
        KIND_LABELS[line.kind],
        str(line.count),
        *(fmt(getattr(line, a)) for a in AMOUNTS),
    ]


def write_csv(decl: Declaration, folder: Path) -> tuple[Path, Path]:
    """The summary (one line per medical type and kind, then the total) and the per-settlement detail.

    UTF-8 with a byte-order mark, so a spreadsheet on a Chinese Windows desktop opens it right."""
    folder.mkdir(parents=True, exist_ok=True)
    base = f"declaration-{decl.institution_code}-{decl.period}"
    summary, detail = folder / f"{base}.csv", folder / f"{base}-detail.csv"
    with summary.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(SUMMARY_HEADER)
        for line in decl.summary_lines:
            w.writerow(_summary_row(decl, line))
    with detail.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(DETAIL_HEADER)
        for s in decl.settlements:
            psn_no, name = decl.people[s.person_id] if s.person_id is not None else ("", "")
            w.writerow(
                [
                    s.setl_no,
                    KIND_LABELS[s.kind],
                    decl.originals.get(s.reverses_id, ""),
                    s.business_day.isoformat() if s.business_day else "",
                    s.settled_at.isoformat(timespec="seconds"),
                    s.med_type,
                    psn_no,
                    name,
                    fmt(s.medfee_sumamt),
                    fmt(s.fund_pay_sumamt),
                    fmt(s.acct_pay - s.acct_mulaid_pay),
                    fmt(s.acct_mulaid_pay),
                    fmt(s.psn_cash_pay),
                    s.cashier,
                    s.approver or "",
                ]
            )
    return summary, detail
