"""The visit's clinical facts: department, doctor and diagnoses (national-interface.md, 2201,
2203's `diseinfo[]`, the fee lines' ordering department and doctor, 2401/2402).

Departments and doctors are imported from CSV or Excel like the price list, all or nothing. A
visit names its department and doctor, or takes the institution's default department and that
department's default doctor (the import marks them). Diagnoses come from the disease catalogue
(1307, 1309). A chronic/special-disease visit (med_type 14) is refused without its disease; any
other visit without one carries its department's usual diagnosis, when the import gives one
(a project reading, README "Go live at a hospital": a counter with no link to the doctor's
system still sends 2203 the diagnosis it must have, and the slip says it was the usual one).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, insert, or_, select
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import Department, Disease, Doctor, Institution
from . import table_file
from .actor import Actor
from .audit import record
from .errors import ServiceError
from .institutions import by_code as _institution

DEPARTMENT_COLUMNS = {
    "code": ("科室编码", "code"),
    "name": ("科室名称", "name"),
    "caty": ("科别", "caty"),
    "is_default": ("默认", "is_default"),
    "diagnosis": ("常用诊断编码", "diagnosis"),
}
DOCTOR_COLUMNS = {
    "code": ("医师编码", "code"),
    "name": ("医师姓名", "name"),
    "dept_code": ("科室编码", "dept_code"),
    "is_default": ("默认", "is_default"),
    "active": ("在职", "active"),
}
YES = {"是": True, "否": False, "1": True, "0": False, "true": True, "false": False, "": False}
CHRONIC = "14"  # outpatient chronic/special disease: settled by its disease
MAX_DIAGNOSES = 20  # diag_srt_no has two digits; no visit needs more


class VisitRefused(ServiceError):
    """The visit lacks a clinical fact the platform or the medical type needs; the text says which."""


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str


@dataclass(frozen=True)
class Visit:
    """Who saw the patient, where, and for what: what 2201, 2203, the fee lines and 2401 carry."""

    dept_code: str
    dept_name: str
    caty: str
    doctor_code: str
    doctor_name: str
    diagnoses: tuple[Diagnosis, ...]
    usual_diagnosis: bool = False  # the department's usual one, not chosen for this visit

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> Visit | None:
        if not doc:
            return None
        return cls(**{**doc, "diagnoses": tuple(Diagnosis(**d) for d in doc.get("diagnoses", ()))})


NO_VISIT = Visit("", "", "", "", "", ())


def visit_of(text: str | None) -> Visit | None:
    return Visit.from_json(json.loads(text)) if text else None


def _flag(value: str) -> bool | None:
    return YES.get(value.strip().lower())


def import_departments(
    db: Database, actor: Actor, institution_code: str, path: Path, *, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Import or update the departments of an institution; (added, changed)."""
    actor.require("catalogue")
    records = table_file.read(path, DEPARTMENT_COLUMNS, ("code", "name", "caty"))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for rec in records:
        v, n = rec.values, rec.line
        code, name, caty = v.get("code", ""), v.get("name", ""), v.get("caty", "")
        default, diagnosis = _flag(v.get("is_default", "")), v.get("diagnosis", "").strip() or None
        if not table_file.code_ok(code, 30):
            problems.append(f"第 {n} 行：科室编码“{code[:40]}”无效（1 到 30 个字母或数字）")
        elif code in seen:
            problems.append(f"第 {n} 行：科室编码 {code} 与第 {seen[code]} 行重复")
        elif not name or len(name) > 100:
            problems.append(f"第 {n} 行：{code} 的科室名称为空或超过 100 字")
        elif not (caty.isascii() and caty.isalnum() and 1 <= len(caty) <= 6):
            problems.append(f"第 {n} 行：{code} 的科别“{caty}”应是平台科别代码（至多 6 位）")
        elif default is None:
            problems.append(f"第 {n} 行：{code} 的“默认”应填 是 或 否")
        elif diagnosis is not None and not table_file.code_ok(diagnosis, 20):
            problems.append(f"第 {n} 行：{code} 的常用诊断编码“{diagnosis[:40]}”无效")
        else:
            seen[code] = n
            rows.append(
                {"code": code, "name": name, "caty": caty, "is_default": default, "diagnosis": diagnosis}
            )
    if sum(r["is_default"] for r in rows) > 1:
        problems.append("只能有一个默认科室")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        inst = _institution(session, institution_code)
        known = set(
            session.scalars(select(Disease.code).where(Disease.code.in_({r["diagnosis"] for r in rows})))
        )
        for r in rows:
            if r["diagnosis"] and r["diagnosis"] not in known:
                problems.append(
                    f"科室 {r['code']} 的常用诊断 {r['diagnosis']} 不在疾病目录中（请先加载 1307）"
                )
        if problems:
            raise table_file.FileRefused(f"科室文件 {path.name} ", problems)
        held = {
            d.code: d for d in session.scalars(select(Department).where(Department.institution_id == inst.id))
        }
        if any(r["is_default"] for r in rows):
            for d in held.values():
                d.is_default = False
        added = changed = 0
        for r in rows:
            old = held.get(r["code"])
            if old is None:
                session.execute(insert(Department), [{**r, "institution_id": inst.id}])
                added += 1
            elif any(getattr(old, k) != r[k] for k in r):
                for k, value in r.items():
                    setattr(old, k, value)
                changed += 1
        record(
            session, actor, "departments_import", path.name, at=at, after={"added": added, "changed": changed}
        )
    return added, changed


def import_doctors(
    db: Database, actor: Actor, institution_code: str, path: Path, *, now: dt.datetime | None = None
) -> tuple[int, int]:
    """Import or update the doctors of an institution; (added, changed)."""
    actor.require("catalogue")
    records = table_file.read(path, DOCTOR_COLUMNS, ("code", "name", "dept_code"))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for rec in records:
        v, n = rec.values, rec.line
        code, name, dept = v.get("code", ""), v.get("name", ""), v.get("dept_code", "")
        default = _flag(v.get("is_default", ""))
        active = _flag(v.get("active", "") or "是")
        if not table_file.code_ok(code, 30):
            problems.append(f"第 {n} 行：医师编码“{code[:40]}”无效（平台的医师编码，至多 30 位）")
        elif code in seen:
            problems.append(f"第 {n} 行：医师编码 {code} 与第 {seen[code]} 行重复")
        elif not name or len(name) > 50:
            problems.append(f"第 {n} 行：{code} 的医师姓名为空或超过 50 字")
        elif default is None or active is None:
            problems.append(f"第 {n} 行：{code} 的“默认”“在职”应填 是 或 否")
        else:
            seen[code] = n
            rows.append(
                {"code": code, "name": name, "dept_code": dept, "is_default": default, "active": active}
            )
    at = now or dt.datetime.now()
    with db.transaction() as session:
        inst = _institution(session, institution_code)
        depts = set(session.scalars(select(Department.code).where(Department.institution_id == inst.id)))
        defaults: dict[str, str] = {}
        for r in rows:
            if r["dept_code"] not in depts:
                problems.append(f"医师 {r['code']} 的科室 {r['dept_code']} 未导入（请先导入科室）")
            if r["is_default"]:
                if r["dept_code"] in defaults:
                    problems.append(
                        f"科室 {r['dept_code']} 有两名默认医师：{defaults[r['dept_code']]}、{r['code']}"
                    )
                defaults[r["dept_code"]] = r["code"]
        if problems:
            raise table_file.FileRefused(f"医师文件 {path.name} ", problems)
        held = {d.code: d for d in session.scalars(select(Doctor).where(Doctor.institution_id == inst.id))}
        for d in held.values():
            if d.dept_code in defaults:
                d.is_default = False
        added = changed = 0
        for r in rows:
            old = held.get(r["code"])
            if old is None:
                session.execute(insert(Doctor), [{**r, "institution_id": inst.id}])
                added += 1
            elif any(getattr(old, k) != r[k] for k in r):
                for k, value in r.items():
                    setattr(old, k, value)
                changed += 1
        record(session, actor, "doctors_import", path.name, at=at, after={"added": added, "changed": changed})
    return added, changed


def resolve(
    session: Session,
    inst: Institution,
    med_type: str,
    dept_code: str = "",
    doctor_code: str = "",
    diagnoses: tuple[str, ...] = (),
) -> Visit:
    """The visit's facts as the store knows them, defaults filled in; refused (VisitRefused) with
    what is missing. A pharmacy purchase has no department or doctor of its own."""
    if len(diagnoses) > MAX_DIAGNOSES:
        raise VisitRefused(f"诊断至多 {MAX_DIAGNOSES} 个")
    found = _diseases(session, diagnoses)
    if inst.kind == "pharmacy":
        return Visit("", "", "", "", "", found)
    if not found and med_type == CHRONIC:
        raise VisitRefused("门诊慢特病（14）须录入所患病种（诊断），才能按病种结算")
    dept, doctor, usual_name = _department_and_doctor(session, inst, dept_code, doctor_code)
    usual = False
    if not found and dept.diagnosis and usual_name is not None:
        found, usual = (Diagnosis(dept.diagnosis, usual_name),), True
    return Visit(dept.code, dept.name, dept.caty, doctor.code, doctor.name, found, usual)


def _diseases(session: Session, codes: tuple[str, ...]) -> tuple[Diagnosis, ...]:
    if not codes:
        return ()
    named = dict(
        session.execute(select(Disease.code, Disease.name).where(Disease.code.in_(codes))).tuples().all()
    )
    missing = [c for c in codes if c not in named]
    if missing:
        raise VisitRefused(f"诊断编码 {'、'.join(missing)} 不在疾病目录中")
    return tuple(Diagnosis(c, named[c]) for c in dict.fromkeys(codes))


def _department_and_doctor(
    session: Session, inst: Institution, dept_code: str, doctor_code: str
) -> tuple[Department, Doctor, str | None]:
    """The department (named, else the default), its doctor (named, else the department's
    default) and the name of its usual diagnosis, in one statement (a settle counts them)."""
    doctor_on = and_(Doctor.institution_id == inst.id, Doctor.active)
    if doctor_code:
        doctor_on = and_(doctor_on, Doctor.code == doctor_code)
    else:
        doctor_on = and_(doctor_on, Doctor.dept_code == Department.code, Doctor.is_default)
    row = session.execute(
        select(Department, Doctor, Disease.name)
        .select_from(Department)
        .outerjoin(Doctor, doctor_on)
        .outerjoin(Disease, Disease.code == Department.diagnosis)
        .where(
            Department.institution_id == inst.id,
            Department.code == dept_code if dept_code else Department.is_default,
        )
        .limit(1)
    ).first()
    if row is None:
        if dept_code:
            raise VisitRefused(f"本机构没有科室 {dept_code}")
        raise VisitRefused("请选择就诊科室（本机构没有默认科室：请先导入科室，标出默认科室）")
    dept, doctor, usual = row.Department, row.Doctor, row.name
    if doctor is None:
        if doctor_code:
            raise VisitRefused(f"本机构没有在职医师 {doctor_code}")
        raise VisitRefused(f"请选择医师（{dept.name} 没有默认医师）")
    return dept, doctor, usual


def departments(session: Session, inst: Institution) -> list[Department]:
    return list(
        session.scalars(
            select(Department).where(Department.institution_id == inst.id).order_by(Department.code)
        )
    )


def doctors(session: Session, inst: Institution) -> list[Doctor]:
    return list(
        session.scalars(
            select(Doctor).where(Doctor.institution_id == inst.id, Doctor.active).order_by(Doctor.code)
        )
    )


def search_diseases(session: Session, text: str, limit: int = 30) -> list[Diagnosis]:
    """Diseases by code prefix, pinyin-initials prefix, or part of the name, as the cashier types."""
    text = text.strip()
    if not text or len(text) > 50 or not text.isprintable():
        return []
    upper = text.upper()
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rank = case(
        (Disease.code.like(f"{upper}%", escape="\\"), 0),
        (Disease.pinyin.like(f"{upper}%", escape="\\"), 1),
        else_=2,
    )
    rows = session.execute(
        select(Disease.code, Disease.name)
        .where(
            or_(
                Disease.code.like(f"{upper}%", escape="\\"),
                Disease.pinyin.like(f"{upper}%", escape="\\"),
                Disease.name.like(f"%{like}%", escape="\\"),
            )
        )
        .order_by(rank, Disease.code)
        .limit(limit)
    ).tuples()
    return [Diagnosis(code, name) for code, name in rows]


@dataclass(frozen=True)
class Choices:
    """What the counter's visit fields offer: departments and active doctors, defaults marked."""

    departments: tuple[tuple[str, str, bool], ...]  # code, name, default
    doctors: tuple[tuple[str, str, str, bool], ...]  # code, name, department code, default


def choices(db: Database, institution_code: str) -> Choices:
    with db.sessions() as session:
        inst = _institution(session, institution_code)
        return Choices(
            tuple((d.code, d.name, d.is_default) for d in departments(session, inst)),
            tuple((d.code, d.name, d.dept_code, d.is_default) for d in doctors(session, inst)),
        )


def find_diseases(db: Database, text: str, limit: int = 30) -> list[Diagnosis]:
    with db.sessions() as session:
        return search_diseases(session, text, limit)
