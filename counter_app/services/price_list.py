"""The hospital's own price list and its mapping to the national catalogue (目录对照).

A price list is imported from CSV or Excel (`table_file`): hospital code, name, specification,
unit, price, barcode, national code. Every row is checked first; a file with a bad row imports
nothing and names each bad line. Re-importing updates the items it names (audited, with each
changed item before and after) and leaves the others as they are.

An item is *mapped* when its national code is in the national catalogue and the catalogue
classes it on the visit date; only a mapped item may be settled with insurance (decision in
issue 24: the centre classes a line by its national code, so an unmapped line cannot go
upstream). The supervisor's report lists the unmapped items and the mappings about to expire.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import CatalogueItem, NationalItem, NationalTerm
from . import table_file
from .actor import Actor
from .audit import record
from .national_catalogue import KIND_OF, Terms, terms_on
from .pinyin import initials

COLUMNS = {
    "code": ("医院项目编码", "项目编码", "code"),
    "name": ("项目名称", "名称", "name"),
    "spec": ("规格", "spec"),
    "unit": ("单位", "unit"),
    "price": ("单价", "价格", "price"),
    "barcode": ("条码", "barcode"),
    "national_code": ("国家医保编码", "医保编码", "national_code"),
    "kind": ("类别", "kind"),
    "account_payable": ("个人账户可付", "account_payable"),
}
REQUIRED = ("code", "name", "unit", "price")
KINDS = {
    "药品": "drug",
    "西药": "drug",
    "中成药": "drug",
    "中药饮片": "herb",
    "诊疗": "service",
    "医疗服务": "service",
    "材料": "material",
    "耗材": "material",
    "drug": "drug",
    "herb": "herb",
    "service": "service",
    "material": "material",
}
YES = {"是": True, "否": False, "1": True, "0": False, "true": True, "false": False, "y": True, "n": False}
MAX_PRICE = Decimal("9999999.99")
EXPIRING_DAYS = 30


@dataclass(frozen=True)
class Imported:
    read: int
    added: int
    changed: int
    unchanged: int
    unmapped: tuple[str, ...]  # codes imported without a national code the catalogue knows

    def describe(self) -> str:
        tail = f"；{len(self.unmapped)} 项未对照国家编码，只能自费" if self.unmapped else ""
        return f"价表读入 {self.read} 行：新增 {self.added}，变更 {self.changed}，未变 {self.unchanged}{tail}"


def _check(rec: table_file.Record, seen: dict[str, int]) -> tuple[dict[str, Any] | None, str | None]:
    v, n = rec.values, rec.line
    code = v.get("code", "").strip()
    name = v.get("name", "").strip()
    if not table_file.code_ok(code, 50):
        return None, f"第 {n} 行：医院项目编码“{code[:60]}”无效（1 到 50 个字母、数字或符号）"
    if code in seen:
        return None, f"第 {n} 行：医院项目编码 {code} 与第 {seen[code]} 行重复"
    if not name or len(name) > 200:
        return None, f"第 {n} 行：{code} 的项目名称为空或超过 200 字"
    unit = v.get("unit", "").strip()
    if not unit or len(unit) > 10:
        return None, f"第 {n} 行：{code} 的单位为空或超过 10 字"
    spec = v.get("spec", "").strip()
    if len(spec) > 100:
        return None, f"第 {n} 行：{code} 的规格超过 100 字"
    try:
        price = Decimal(v.get("price", "").strip())
        if not price.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        return None, f"第 {n} 行：{code} 的单价“{v.get('price', '')}”不是金额"
    if price < 0 or price > MAX_PRICE or price != price.quantize(Decimal("0.01")):
        return None, f"第 {n} 行：{code} 的单价 {price} 应在 0 到 {MAX_PRICE} 之间，最多两位小数"
    price = price.quantize(Decimal("0.01"))
    barcode = v.get("barcode", "").strip() or None
    if barcode is not None and not (barcode.isdigit() and barcode.isascii() and len(barcode) <= 50):
        return None, f"第 {n} 行：{code} 的条码“{barcode[:60]}”应是数字"
    national = v.get("national_code", "").strip() or None
    if national is not None and not table_file.code_ok(national, 50):
        return None, f"第 {n} 行：{code} 的国家医保编码“{national[:60]}”格式无效"
    kind_text = v.get("kind", "").strip()
    kind = KINDS.get(kind_text.lower() if kind_text.isascii() else kind_text) if kind_text else None
    if kind_text and kind is None:
        return None, f"第 {n} 行：{code} 的类别“{kind_text}”应是 药品、中药饮片、诊疗 或 材料"
    payable_text = v.get("account_payable", "").strip().lower()
    payable = YES.get(payable_text) if payable_text else True
    if payable is None:
        return None, f"第 {n} 行：{code} 的“个人账户可付”应填 是 或 否"
    seen[code] = n
    return {
        "code": code,
        "name": name,
        "spec": spec,
        "unit": unit,
        "price": price,
        "barcode": barcode,
        "national_code": national,
        "kind": kind,
        "account_payable": payable,
    }, None


FIELDS = ("name", "spec", "unit", "price", "barcode", "national_code", "kind", "account_payable")


def import_file(db: Database, actor: Actor, path: Path, *, now: dt.datetime | None = None) -> Imported:
    """Import or update the price list from `path`, all or nothing."""
    actor.require("catalogue")
    records = table_file.read(path, COLUMNS, REQUIRED)
    seen: dict[str, int] = {}
    rows, problems = [], []
    for rec in records:
        row, problem = _check(rec, seen)
        if problem:
            problems.append(problem)
        elif row is not None:
            rows.append(row)
    if problems:
        raise table_file.FileRefused(f"价表 {path.name} ", problems)
    if not rows:
        raise table_file.FileRefused(f"价表 {path.name} ", ["没有任何项目行"])
    at = now or dt.datetime.now()
    with db.transaction() as session:
        nationals = dict(
            session.execute(
                select(NationalItem.code, NationalItem.catalogue).where(
                    NationalItem.code.in_({r["national_code"] for r in rows if r["national_code"]})
                )
            )
            .tuples()
            .all()
        )
        today = terms_on(session, nationals, at.date())
        held = {c.code: c for c in session.scalars(select(CatalogueItem))}
        new, changes, unmapped = [], [], []
        for r in rows:
            national = r["national_code"]
            if national not in nationals:
                unmapped.append(r["code"])
            if r["kind"] is None:
                r["kind"] = KIND_OF.get(nationals.get(national or "", ""), "service")
            old = held.get(r["code"])
            if old is None:
                terms = today.get(national or "")
                cls = terms.cls if terms and terms.cls else "C"
                new.append(
                    {
                        **r,
                        "pinyin": initials(r["name"]),  # only for new or renamed items: pypinyin is slow
                        "cls": cls,
                        "prepay_ratio": terms.selfpay if terms and cls == "B" else Decimal(0),
                        "updated_at": at,
                    }
                )
                continue
            before = {f: getattr(old, f) for f in FIELDS}
            after = {f: r[f] for f in FIELDS}
            if before != after:
                if old.name != r["name"]:
                    old.pinyin = initials(r["name"])
                for f in FIELDS:
                    setattr(old, f, r[f])
                old.updated_at = at
                changes.append({"code": old.code, "before": _plain(before), "after": _plain(after)})
        if new:
            session.execute(insert(CatalogueItem), new)
        result = Imported(
            len(rows), len(new), len(changes), len(rows) - len(new) - len(changes), tuple(unmapped)
        )
        record(
            session,
            actor,
            "price_list_import",
            path.name,
            at=at,
            seal_tables=("catalogue_item",),
            after={
                "read": result.read,
                "added": result.added,
                "changed": result.changed,
                "unmapped": len(unmapped),
                "changes": changes,
            },
        )
    return result


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


@dataclass(frozen=True)
class MappingProblem:
    code: str
    name: str
    national_code: str | None
    reason: str
    ends: dt.date | None = None


def mapping_report(
    db: Database, actor: Actor, day: dt.date | None = None, within_days: int = EXPIRING_DAYS
) -> list[MappingProblem]:
    """Items that cannot be settled with insurance on `day`, and items whose class in the
    catalogue ends within `within_days` with nothing after it: the supervisor's list."""
    actor.require("catalogue")
    day = day or dt.date.today()
    horizon = day + dt.timedelta(days=within_days)
    with db.sessions() as session:
        items = list(session.scalars(select(CatalogueItem).order_by(CatalogueItem.code)))
        codes = [i.national_code for i in items if i.national_code]
        terms = terms_on(session, codes, day)
        later = _later_class_starts(session, codes, day)
        ends = _class_ends(session, codes, day)
    out = []
    for item in items:
        reason = unmapped_reason(item.national_code, terms.get(item.national_code or ""))
        if reason:
            out.append(MappingProblem(item.code, item.name, item.national_code, reason))
            continue
        end = ends.get(item.national_code or "")
        if end is not None and end <= horizon and (item.national_code or "") not in later:
            out.append(
                MappingProblem(item.code, item.name, item.national_code, f"对照的目录 {end} 到期", end)
            )
    return out


def unmapped_reason(national_code: str | None, found: Terms | None) -> str | None:
    """Why an item with this national code, whose terms on the day are `found` (None: the
    catalogue does not hold the code), cannot be settled with insurance; None when it can."""
    if not national_code:
        return "未对照国家医保编码"
    if found is None:
        return f"国家医保编码 {national_code} 不在已加载的国家目录中"
    if found.cls is None:
        return f"国家目录在就诊日没有 {national_code} 的甲乙丙类别"
    return None


def _class_ends(session: Session, codes: list[str], day: dt.date) -> dict[str, dt.date]:
    rows = session.execute(
        select(NationalTerm.code, NationalTerm.enddate).where(
            NationalTerm.code.in_(codes),
            NationalTerm.kind == "class",
            NationalTerm.begndate <= day,
            NationalTerm.enddate.is_not(None),
            NationalTerm.enddate >= day,
        )
    ).tuples()
    return {code: end for code, end in rows if end is not None}


def _later_class_starts(session: Session, codes: list[str], day: dt.date) -> set[str]:
    return set(
        session.scalars(
            select(NationalTerm.code).where(
                NationalTerm.code.in_(codes),
                NationalTerm.kind == "class",
                NationalTerm.begndate > day,
            )
        )
    )
