"""The agency's insured population, imported from CSV or Excel (issue 24): persons with their
enrolment and personal accounts (the carried-over pot and this year's money apart), and family
bindings. The format is in README, "Go live at a hospital".

The first import of a person writes the person, the account and its opening balance as two
ledger entries (历年结余 before the year, 当年 in it: WH-11's two pots, rules.md decision 9) in
bulk, the way the demo loads. A re-import of someone already held applies what changed through
the services that own it: a death (enrolment.record_death) and a change of insurance type or
status (enrolment.change_enrolment) end bindings as HF-2.2 says; name, person type, retirement
date and contribution base are updated in place. A balance that differs from the ledger is
reported, never overwritten: after go-live the ledger is the account. Every file is checked
whole first; a bad row is reported with its line and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text, update

from .. import identity
from ..engine.claim import PSN_TYPES, STATUSES
from ..engine.policy import INSUTYPES
from ..store import Database
from ..store.models import Account, FamilyBinding, LedgerEntry, Person
from . import enrolment, table_file
from .actor import Actor
from .audit import record
from .institutions import policy_of_place

PERSON_COLUMNS = {
    "psn_no": ("人员编号", "psn_no"),
    "certno": ("身份证号", "certno"),
    "name": ("姓名", "name"),
    "insutype": ("险种", "insutype"),
    "psn_type": ("人员类别", "psn_type"),
    "status": ("参保状态", "status"),
    "retired_on": ("退休日期", "retired_on"),
    "contribution_base": ("缴费基数", "contribution_base"),
    "died_on": ("死亡日期", "died_on"),
    "carried": ("历年结余", "carried"),
    "current": ("当年余额", "current"),
    "opened_on": ("开户日期", "opened_on"),
}
BINDING_COLUMNS = {
    "provider": ("提供人身份证号", "provider"),
    "beneficiary": ("受益人身份证号", "beneficiary"),
    "relation": ("关系", "relation"),
    "bound_on": ("绑定日期", "bound_on"),
    "policy": ("适用政策", "policy"),
}
PSN_TYPE_NAMES = {
    "在职": "in_service",
    "退休": "retired",
    "灵活就业（统账结合）": "flexible_combined",
    "灵活就业（单建统筹）": "flexible_pooling_only",
    **{t: t for t in PSN_TYPES},
}
STATUS_NAMES = {
    "正常": "normal",
    "暂停": "suspended",
    "停保": "suspended",
    "欠费": "arrears",
    **{s: s for s in STATUSES},
}
RELATION_NAMES = {"父亲": "father", "母亲": "mother", "配偶": "spouse", "子女": "child"}
RELATIONS = ("father", "mother", "spouse", "child")
POLICY_NAMES = {"芜湖": "wuhu-2022", "合肥": "hefei-2019"}  # a binding's city (HF-1, WH-1)
CHUNK = 5_000
MAX_BALANCE = Decimal("99999999.99")


@dataclass
class PopulationReport:
    read: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deaths: int = 0
    bindings_added: int = 0
    bindings_ended: int = 0
    balance_differs: list[str] = field(default_factory=list)  # psn_no whose file balance is not the ledger's

    def describe(self) -> str:
        tail = (
            f"；{len(self.balance_differs)} 人余额与账户流水不符（未改动，请核对）"
            if self.balance_differs
            else ""
        )
        return (
            f"参保人员读入 {self.read} 行：新增 {self.added}，变更 {self.changed}，未变 {self.unchanged}，"
            f"登记死亡 {self.deaths}；新增绑定 {self.bindings_added}，终止绑定 {self.bindings_ended}{tail}"
        )


def _date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value.strip()[:10]) if value.strip() else None


def _money(value: str) -> Decimal:
    amount = Decimal(value.strip() or "0")
    if (
        not amount.is_finite()
        or amount < 0
        or amount > MAX_BALANCE
        or amount != amount.quantize(Decimal("0.01"))
    ):
        raise InvalidOperation
    return amount.quantize(Decimal("0.01"))


def _person_row(
    rec: table_file.Record, seen: dict[str, int], certs: dict[str, int]
) -> tuple[dict[str, Any] | None, str | None]:
    v, n = rec.values, rec.line
    psn_no = v.get("psn_no", "").strip()
    if not psn_no or len(psn_no) > 30 or not psn_no.isascii() or " " in psn_no:
        return None, f"第 {n} 行：人员编号“{psn_no[:40]}”无效"
    if psn_no in seen:
        return None, f"第 {n} 行：人员编号 {psn_no} 与第 {seen[psn_no]} 行重复"
    try:
        certno = identity.normalise(v.get("certno", ""))
    except identity.CertnoError as exc:
        return None, f"第 {n} 行（{psn_no}）：{exc}"
    if certno in certs:
        return None, f"第 {n} 行（{psn_no}）：身份证号与第 {certs[certno]} 行重复"
    name = v.get("name", "").strip()
    if not name or len(name) > 50:
        return None, f"第 {n} 行（{psn_no}）：姓名为空或超过 50 字"
    insutype = v.get("insutype", "").strip()
    if insutype not in INSUTYPES:
        return None, f"第 {n} 行（{psn_no}）：险种“{insutype}”应是 {'、'.join(INSUTYPES)}"
    psn_type = PSN_TYPE_NAMES.get(v.get("psn_type", "").strip() or "在职")
    if psn_type is None:
        return (
            None,
            f"第 {n} 行（{psn_no}）：人员类别“{v.get('psn_type')}”应是 在职、退休、灵活就业（统账结合）或（单建统筹）",
        )
    status = STATUS_NAMES.get(v.get("status", "").strip() or "正常")
    if status is None:
        return None, f"第 {n} 行（{psn_no}）：参保状态“{v.get('status')}”应是 正常、暂停 或 欠费"
    try:
        retired_on, died_on = _date(v.get("retired_on", "")), _date(v.get("died_on", ""))
        opened_on = _date(v.get("opened_on", ""))
    except ValueError:
        return None, f"第 {n} 行（{psn_no}）：退休日期、死亡日期或开户日期不是 YYYY-MM-DD"
    if psn_type == "retired" and retired_on is None:
        return None, f"第 {n} 行（{psn_no}）：退休人员须有退休日期（WH-21）"
    try:
        base = _money(v["contribution_base"]) if v.get("contribution_base", "").strip() else None
        carried, current = _money(v.get("carried", "")), _money(v.get("current", ""))
    except InvalidOperation:
        return None, f"第 {n} 行（{psn_no}）：缴费基数或账户余额不是不小于 0 的金额（两位小数）"
    if (carried or current) and (insutype != "310" or psn_type == "flexible_pooling_only"):
        return None, f"第 {n} 行（{psn_no}）：只有职工医保（统账结合）人员有个人账户余额（WH-5）"
    seen[psn_no], certs[certno] = n, n
    return {
        "psn_no": psn_no,
        "certno": certno,
        "name": name,
        "insutype": insutype,
        "psn_type": psn_type,
        "status": status,
        "retired_on": retired_on,
        "contribution_base": base,
        "died_on": died_on,
        "carried": carried,
        "current": current,
        "opened_on": opened_on,
    }, None


UPDATED_IN_PLACE = ("name", "psn_type", "retired_on", "contribution_base")


def read_persons(path: Path) -> list[dict[str, Any]]:
    """The persons of a population file, every row checked (FileRefused names each bad line).
    Pure: the import below and the reference centre's registry both read the file through it."""
    records = table_file.read(path, PERSON_COLUMNS, ("psn_no", "certno", "name", "insutype"))
    seen: dict[str, int] = {}
    certs: dict[str, int] = {}
    rows, problems = [], []
    for rec in records:
        row, problem = _person_row(rec, seen, certs)
        if problem:
            problems.append(problem)
        elif row is not None:
            rows.append(row)
    if problems:
        raise table_file.FileRefused(f"参保人员文件 {path.name} ", problems)
    return rows


@dataclass(frozen=True)
class BindingRow:
    line: int
    provider: str  # ID numbers, normalised
    beneficiary: str
    relation: str
    bound_on: dt.date | None
    policy: str | None  # the city whose agreement it is (None: the provider's place of insurance's)


def read_bindings(path: Path) -> list[BindingRow]:
    """The bindings of a bindings file, each row's own fields checked; who the people are is the
    reader's to check (the counter's store, or the centre's registry)."""
    records = table_file.read(path, BINDING_COLUMNS, ("provider", "beneficiary", "relation"))
    out, problems = [], []
    for rec in records:
        v, n = rec.values, rec.line
        try:
            provider = identity.normalise(v.get("provider", ""))
            beneficiary = identity.normalise(v.get("beneficiary", ""))
        except identity.CertnoError as exc:
            problems.append(f"第 {n} 行：{exc}")
            continue
        relation = RELATION_NAMES.get(v.get("relation", "").strip(), v.get("relation", "").strip())
        policy = POLICY_NAMES.get(v.get("policy", "").strip(), v.get("policy", "").strip()) or None
        try:
            bound_on = _date(v.get("bound_on", ""))
        except ValueError:
            problems.append(f"第 {n} 行：绑定日期不是 YYYY-MM-DD")
            continue
        if relation not in RELATIONS:
            problems.append(f"第 {n} 行：关系“{relation}”应是 父亲、母亲、配偶 或 子女")
        elif policy is not None and policy not in POLICY_NAMES.values():
            problems.append(
                f"第 {n} 行：适用政策“{policy}”应是 {'、'.join(POLICY_NAMES)} 或空（按提供人参保地的政策）"
            )
        elif provider == beneficiary:
            problems.append(f"第 {n} 行：提供人与受益人是同一人")
        else:
            out.append(BindingRow(n, provider, beneficiary, relation, bound_on, policy))
    if problems:
        raise table_file.FileRefused(f"绑定文件 {path.name} ", problems)
    return out


def import_persons(
    db: Database, actor: Actor, path: Path, *, as_of: dt.date | None = None, now: dt.datetime | None = None
) -> PopulationReport:
    """Import or update the insured population from `path`, all rows checked first."""
    actor.require("population")
    rows = read_persons(path)
    problems: list[str] = []
    at = now or dt.datetime.now()
    day = as_of or at.date()
    report = PopulationReport(read=len(rows))
    later: list[tuple[int, dict[str, Any], Any]] = []  # changes that go through enrolment services
    with db.transaction() as session:
        held = {
            p.psn_no: p
            for p in session.execute(
                select(
                    Person.id,
                    Person.psn_no,
                    Person.certno,
                    Person.insutype,
                    Person.status,
                    Person.died_on,
                    *(getattr(Person, k) for k in UPDATED_IN_PLACE),
                )
            )
        }  # plain rows: loading 100,000 objects (and each one's account) would be the import's cost
        certs_held = {p.certno: p.psn_no for p in held.values()}
        for row in rows:
            other = certs_held.get(row["certno"])
            if other is not None and other != row["psn_no"]:
                problems.append(f"{row['psn_no']}：身份证号已属于人员 {other}")
        if problems:
            raise table_file.FileRefused(f"参保人员文件 {path.name} ", problems)
        ledger = dict(
            session.execute(
                select(Account.person_id, func.coalesce(func.sum(LedgerEntry.amount), 0))
                .join(LedgerEntry, LedgerEntry.account_id == Account.id, isouter=True)
                .group_by(Account.person_id)
            )
            .tuples()
            .all()
        )
        next_id = (session.scalar(select(func.max(Person.id))) or 0) + 1
        next_account = (session.scalar(select(func.max(Account.id))) or 0) + 1
        persons, accounts, entries, updates = [], [], [], []
        year_start = dt.datetime(day.year, 1, 1)
        for row in rows:
            old = held.get(row["psn_no"])
            if old is None:
                pid = next_id
                next_id += 1
                persons.append(
                    {
                        k: row[k]
                        for k in (
                            "psn_no",
                            "certno",
                            "name",
                            "insutype",
                            "psn_type",
                            "status",
                            "retired_on",
                            "contribution_base",
                            "died_on",
                        )
                    }
                    | {"id": pid, "hospitalized": False}
                )
                if row["insutype"] == "310" and row["psn_type"] != "flexible_pooling_only":
                    aid = next_account
                    next_account += 1
                    balance = row["carried"] + row["current"]
                    accounts.append(
                        {
                            "id": aid,
                            "person_id": pid,
                            "opened_on": row["opened_on"] or day,
                            "closed_on": None,
                            "balance": balance,
                            "version": 1,
                        }
                    )
                    running = Decimal("0.00")
                    for amount, kind, when, note in (
                        (
                            row["carried"],
                            "opening",
                            year_start - dt.timedelta(seconds=1),
                            "期初余额：历年结余（导入）",
                        ),
                        (
                            row["current"],
                            "opening_current",
                            max(year_start, dt.datetime.combine(day, dt.time())),
                            "期初余额：当年（导入）",
                        ),
                    ):
                        if amount:
                            running += amount
                            entries.append(
                                {
                                    "account_id": aid,
                                    "amount": amount,
                                    "balance_after": running,
                                    "kind": kind,
                                    "note": note,
                                    "settlement_id": None,
                                    "period": None,
                                    "created_at": when,
                                }
                            )
                report.added += 1
                continue
            differs = {k for k in UPDATED_IN_PLACE if getattr(old, k) != row[k]}
            if differs:
                updates.append({"b_id": old.id, **{k: row[k] for k in UPDATED_IN_PLACE}})
            enrol = (row["insutype"], row["status"]) != (old.insutype, old.status)
            death = row["died_on"] is not None and old.died_on is None
            if enrol or death:
                later.append((old.id, row, old))
            if differs or enrol or death:
                report.changed += 1
            else:
                report.unchanged += 1
            given = row["carried"] + row["current"]
            if old.id in ledger and given and ledger[old.id] != given:
                report.balance_differs.append(old.psn_no)
        if updates:
            values: dict[str, Any] = {k: bindparam(k) for k in UPDATED_IN_PLACE}
            statement = update(Person).where(Person.id == bindparam("b_id")).values(**values)
            session.connection().execute(statement, updates)
        for model, batch in ((Person, persons), (Account, accounts)):
            for start in range(0, len(batch), CHUNK):
                session.execute(insert(model), batch[start : start + CHUNK])
        opened: list[int] = []  # the opening entries this import wrote: its entry covers these only
        for start in range(0, len(entries), CHUNK):
            opened += session.scalars(
                insert(LedgerEntry).returning(LedgerEntry.id), entries[start : start + CHUNK]
            )
        if session.get_bind().dialect.name == "postgresql" and persons:
            for table in ("person", "account"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
        record(
            session,
            actor,
            "population_import",
            path.name,
            at=at,
            after={"read": report.read, "added": report.added, "changed": report.changed},
            covers={"ledger_entry": opened},
        )
    for person_id, row, old in later:  # each in its own transaction, audited by its service
        if row["insutype"] != old.insutype or row["status"] != old.status:
            report.bindings_ended += len(
                enrolment.change_enrolment(
                    db, actor, person_id, insutype=row["insutype"], status=row["status"], now=at
                )
            )
        if row["died_on"] is not None and old.died_on is None:
            report.bindings_ended += len(enrolment.record_death(db, actor, person_id, row["died_on"], now=at))
            report.deaths += 1
    return report


def import_bindings(
    db: Database, actor: Actor, path: Path, *, now: dt.datetime | None = None
) -> PopulationReport:
    """Bindings made at the agency before go-live (their commitments on paper, HF-3): each names
    the provider and the beneficiary by ID number. A binding already held is left as it is."""
    actor.require("population")
    given = read_bindings(path)
    at = now or dt.datetime.now()
    report = PopulationReport(read=len(given))
    problems = []
    with db.transaction() as session:
        people = {p.certno: p for p in session.scalars(select(Person))}
        active = {
            (b.provider_id, b.beneficiary_id)
            for b in session.scalars(select(FamilyBinding).where(FamilyBinding.ended_at.is_(None)))
        }
        rows = []
        place_policy: dict[str, str | None] = {}
        for b in given:
            n = b.line
            provider, beneficiary = people.get(b.provider), people.get(b.beneficiary)
            if provider is None or beneficiary is None:
                problems.append(
                    f"第 {n} 行：{'提供人' if provider is None else '受益人'}不在参保人员中（请先导入人员）"
                )
            elif provider.insutype != "310":
                problems.append(f"第 {n} 行：提供人 {provider.psn_no} 不是职工医保参保人（HF-1.2）")
            elif (provider.id, beneficiary.id) in active:
                report.unchanged += 1
            else:
                active.add((provider.id, beneficiary.id))
                when = dt.datetime.combine(b.bound_on or at.date(), dt.time(9))
                policy = b.policy or place_policy.setdefault(
                    provider.insuplc_admdvs or "", policy_of_place(session, provider.insuplc_admdvs)
                )  # none named: the provider's place of insurance's (issue 25 point 7)
                proof = hashlib.sha256(
                    f"{path.name}:{n}:{provider.certno}:{beneficiary.certno}".encode()
                ).hexdigest()
                rows.append(
                    {
                        "provider_id": provider.id,
                        "beneficiary_id": beneficiary.id,
                        "relation": b.relation,
                        "bound_at": when,
                        "commitment_signed_at": when,
                        "commitment_sha256": proof,  # the paper commitment is the agency's; this names its line
                        "clerk": actor.staff_no,
                        "policy": policy,
                    }
                )
        if problems:
            raise table_file.FileRefused(f"绑定文件 {path.name} ", problems)
        ids: list[int] = []
        for start in range(0, len(rows), CHUNK):
            ids += session.scalars(
                insert(FamilyBinding).returning(FamilyBinding.id), rows[start : start + CHUNK]
            )
        report.bindings_added = len(rows)
        record(
            session,
            actor,
            "bindings_import",
            path.name,
            at=at,
            after={"added": len(rows)},
            seal={"family_binding": ids},
        )
    return report
