"""The platform's national catalogues, loaded from its download files and its paged queries
(national-interface.md, "Catalogues (1301–1319) and file downloads (9102)").

- **Items and diseases** come as a download file: a zip holding one tab-separated text file in
  which an empty value is the literal `null`; the columns are positional, the first the national
  code and the second the name (the project reads only these two; zebone's reading, *unverified*
  for the other columns). 1301 drugs, 1302 herbal pieces, 1305 services, 1306 materials; 1307
  diseases and 1309 chronic/special diseases. A download is named by its version (`ver`).
- **Payment terms** come from the paged queries as JSON (`output.data[]`): 1312 the class
  (`chrgitm_lv` 01/02/03 as 甲/乙/丙, hsa-his's reading), 1318 the price cap
  (`hilist_pric_uplmt_amt`), 1319 the first self-pay ratio (`selfpay_prop`), each with `begndate`
  and an optional `enddate`. Decision: the list code `hilist_code` is taken as the national code
  (1316 pairs them; at the platform they are the same code for national items).

A load is one transaction: every row is checked first, and a file with any bad row writes
nothing, naming each bad line. Rows the store already holds as they are change nothing, so a
reload of the same file writes nothing but its version stamp.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from ..store import Database
from ..store.models import CatalogueVersion, Disease, NationalItem, NationalTerm
from .actor import Actor
from .audit import record
from .errors import ServiceError
from .pinyin import initials
from .table_file import FileRefused

ITEM_CATALOGUES = {"1301": "西药中成药", "1302": "中药饮片", "1305": "医疗服务项目", "1306": "医用耗材"}
KIND_OF = {"1301": "drug", "1302": "herb", "1305": "service", "1306": "material"}  # CatalogueItem.kind
DISEASE_CATALOGUES = {"1307": "疾病与诊断", "1309": "门诊慢特病种"}
TERM_QUERIES = {"1312": "class", "1318": "cap", "1319": "selfpay"}
TERM_NAMES = {"1312": "医保目录信息", "1318": "医保目录限价信息", "1319": "医保目录先自付比例信息"}
CLASS_OF_LEVEL = {"01": "A", "02": "B", "03": "C"}  # chrgitm_lv (hsa-his's reading, unverified)
MAX_FILE_BYTES = 256 * 1024 * 1024
MAX_CODE, MAX_NAME, MAX_VERSION = 50, 200, 40
CHUNK = 5_000


@dataclass(frozen=True)
class LoadReport:
    catalogue: str
    version: str
    read: int
    added: int
    changed: int
    unchanged: int

    def describe(self) -> str:
        return (
            f"{self.catalogue} 版本 {self.version}：读入 {self.read} 行，新增 {self.added}，"
            f"变更 {self.changed}，未变 {self.unchanged}"
        )


@dataclass(frozen=True)
class Terms:
    """What the catalogue says of a national code on one day."""

    cls: str | None  # A, B, C; None: the catalogue does not class it on that day
    selfpay: Decimal  # the first self-pay share of a class B item (WH-3's pre-pay)
    cap: Decimal | None  # the highest unit price the fund recognises (超限价 above it)


def _unzip(data: bytes, what: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            files = [i for i in archive.infolist() if not i.is_dir()]
            if len(files) != 1:
                raise FileRefused(what, [f"压缩包应含一个文本文件，含 {len(files)} 个"])
            if files[0].file_size > MAX_FILE_BYTES:
                raise FileRefused(what, ["文件过大"])
            raw = archive.read(files[0])
    except (zipfile.BadZipFile, EOFError) as exc:
        raise FileRefused(what, [f"不是压缩包：{exc}"]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileRefused(what, [f"不是 UTF-8 文本：{exc}"]) from None


def _text_ok(value: str) -> bool:
    return value.isprintable() and "\t" not in value


def read_download(data: bytes, catalogue: str) -> list[tuple[str, str]]:
    """(code, name) of every line of a download file, or FileRefused naming each bad line."""
    what = f"目录文件（{catalogue}）"
    text = _unzip(data, what)
    rows: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    problems = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = ["" if c == "null" else c.strip() for c in line.split("\t")]
        if len(cells) < 2:
            problems.append(f"第 {n} 行：只有 {len(cells)} 列，应至少有编码和名称两列")
            continue
        code, name = cells[0], cells[1]
        if not code or len(code) > MAX_CODE or not code.isascii() or not _text_ok(code) or " " in code:
            problems.append(f"第 {n} 行：编码“{code[:60]}”不是有效的国家编码")
        elif not name or len(name) > MAX_NAME or not _text_ok(name):
            problems.append(f"第 {n} 行：{code} 的名称为空或过长")
        elif code in seen:
            problems.append(f"第 {n} 行：编码 {code} 与第 {seen[code]} 行重复")
        else:
            seen[code] = n
            rows.append((code, name))
    if problems:
        raise FileRefused(what, problems)
    if not rows:
        raise FileRefused(what, ["文件中没有任何目录行"])
    return rows


def write_download(rows: Iterable[Sequence[str]], name: str = "catalogue.txt") -> bytes:
    """A download file as the platform ships it (for the demo and the reference centre)."""
    lines = ["\t".join("null" if c in ("", None) else str(c) for c in row) for row in rows]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, "\n".join(lines) + "\n")
    return buffer.getvalue()


def _check_version(version: str) -> str:
    version = version.strip()
    if not version or len(version) > MAX_VERSION or not _text_ok(version):
        raise ServiceError(f"目录版本号“{version[:60]}”无效（1 到 {MAX_VERSION} 个可见字符）")
    return version


def load_download(
    db: Database,
    actor: Actor,
    catalogue: str,
    version: str,
    data: bytes,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LoadReport:
    """Load one download file (items 1301/1302/1305/1306 or diseases 1307/1309) in one transaction."""
    actor.require("catalogue")
    if catalogue not in ITEM_CATALOGUES and catalogue not in DISEASE_CATALOGUES:
        known = ", ".join([*ITEM_CATALOGUES, *DISEASE_CATALOGUES])
        raise ServiceError(f"不认识的目录 {catalogue}（可下载的目录：{known}）")
    version = _check_version(version)
    rows = read_download(data, catalogue)
    at = now or dt.datetime.now()
    model: Any = NationalItem if catalogue in ITEM_CATALOGUES else Disease
    with db.transaction() as session:
        held = {
            code: (name, cat)
            for code, name, cat in session.execute(select(model.code, model.name, model.catalogue)).tuples()
        }
        new, changed = [], []
        for code, name in rows:
            old = held.get(code)
            if old is None:
                new.append({"code": code, "name": name, "catalogue": catalogue, "version": version})
            elif old != (name, catalogue):
                changed.append({"b_code": code, "name": name, "catalogue": catalogue, "version": version})
        if model is Disease:
            for row in new:
                row["pinyin"] = initials(row["name"])
            for row in changed:
                row["pinyin"] = initials(row["name"])
        done = 0
        for start in range(0, len(new), CHUNK):
            session.execute(insert(model), new[start : start + CHUNK])
            done += len(new[start : start + CHUNK])
            if progress:
                progress(done, len(new) + len(changed))
        if changed:
            values: dict[str, Any] = {k: bindparam(k) for k in changed[0] if k != "b_code"}
            statement = update(model).where(model.code == bindparam("b_code")).values(**values)
            connection = session.connection()
            for start in range(0, len(changed), CHUNK):
                connection.execute(statement, changed[start : start + CHUNK])
                done += len(changed[start : start + CHUNK])
                if progress:
                    progress(done, len(new) + len(changed))
        _stamp(session, catalogue, version, len(rows), at)
        report = LoadReport(
            catalogue, version, len(rows), len(new), len(changed), len(rows) - len(new) - len(changed)
        )
        record(
            session,
            actor,
            "catalogue_load",
            f"{catalogue} {version}",
            at=at,
            seal_tables=(model.__tablename__,),
            after={"read": report.read, "added": report.added, "changed": report.changed},
        )
    return report


def _stamp(session: Session, catalogue: str, version: str, rows: int, at: dt.datetime) -> None:
    held = session.get(CatalogueVersion, catalogue)
    if held is None:
        session.add(CatalogueVersion(catalogue=catalogue, version=version, rows=rows, loaded_at=at))
    else:
        held.version, held.rows, held.loaded_at = max(held.version, version), rows, at


def held_version(db: Database, catalogue: str) -> str:
    """The newest version held of a catalogue ("0" for none): the `ver` of the next download."""
    with db.sessions() as session:
        held = session.get(CatalogueVersion, catalogue)
        return held.version if held else "0"


# --- payment terms (1312, 1318, 1319) ---------------------------------------------------------


@dataclass(frozen=True)
class TermRow:
    code: str
    kind: str
    cls: str | None
    ratio: Decimal | None
    amount: Decimal | None
    begndate: dt.date
    enddate: dt.date | None


def _records(doc: Any) -> list[Any]:
    """The records of one answer or of a list of pages: `{"output": {"data": [...]}}`, `{"data":
    [...]}` or a bare list of records."""
    if isinstance(doc, list) and all(isinstance(d, dict) and ("data" in d or "output" in d) for d in doc):
        return [r for page in doc for r in _records(page)]
    if isinstance(doc, dict):
        if isinstance(doc.get("output"), dict):
            return _records(doc["output"])
        data = doc.get("data")
        if isinstance(data, list):
            return data
        raise FileRefused("目录查询结果", ["找不到 output.data 记录列表"])
    if isinstance(doc, list):
        return doc
    raise FileRefused("目录查询结果", ["不是 JSON 对象或列表"])


def _date(value: Any) -> dt.date | None:
    if value in (None, "", "null"):
        return None
    text = str(value).strip()[:10]
    return dt.date.fromisoformat(text)


def read_terms(infno: str, text: str) -> list[TermRow]:
    """The terms of a 1312/1318/1319 answer (JSON text), or FileRefused naming each bad record."""
    what = f"{infno} {TERM_NAMES.get(infno, '')}"
    if infno not in TERM_QUERIES:
        raise ServiceError(f"不认识的目录查询 {infno}（{', '.join(TERM_QUERIES)}）")
    try:
        doc = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise FileRefused(what, [f"不是 JSON：{exc}"]) from None
    kind = TERM_QUERIES[infno]
    out: list[TermRow] = []
    problems = []
    seen: dict[tuple[str, dt.date], int] = {}
    for n, rec in enumerate(_records(doc), 1):
        if not isinstance(rec, dict):
            problems.append(f"第 {n} 条：不是记录")
            continue
        code = str(rec.get("hilist_code") or "").strip()
        if str(rec.get("vali_flag", "1")) == "0":
            continue  # the platform marks a withdrawn record invalid: it is not a term
        try:
            begin = _date(rec.get("begndate"))
            end = _date(rec.get("enddate"))
        except ValueError:
            problems.append(f"第 {n} 条（{code}）：开始或结束日期无效")
            continue
        if not code or len(code) > MAX_CODE or not code.isascii():
            problems.append(f"第 {n} 条：目录编码“{code[:60]}”无效")
            continue
        if begin is None:
            problems.append(f"第 {n} 条（{code}）：缺少开始日期 begndate")
            continue
        if end is not None and end < begin:
            problems.append(f"第 {n} 条（{code}）：结束日期早于开始日期")
            continue
        cls = ratio = amount = None
        try:
            if kind == "class":
                cls = CLASS_OF_LEVEL.get(str(rec.get("chrgitm_lv") or "").strip())
                if cls is None:
                    problems.append(
                        f"第 {n} 条（{code}）：收费项目等级 chrgitm_lv“{rec.get('chrgitm_lv')}”不是 01/02/03"
                    )
                    continue
            elif kind == "selfpay":
                ratio = Decimal(str(rec.get("selfpay_prop")))
                if not Decimal(0) <= ratio <= Decimal(1):
                    raise InvalidOperation
            else:
                amount = Decimal(str(rec.get("hilist_pric_uplmt_amt")))
                if amount < 0 or amount != amount.quantize(Decimal("0.0001")):
                    raise InvalidOperation
                amount = amount.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            field = "selfpay_prop" if kind == "selfpay" else "hilist_pric_uplmt_amt"
            problems.append(f"第 {n} 条（{code}）：{field}“{rec.get(field)}”不是有效数值")
            continue
        key = (code, begin)
        if key in seen:
            problems.append(f"第 {n} 条（{code}）：与第 {seen[key]} 条同一开始日期 {begin}")
            continue
        seen[key] = n
        out.append(TermRow(code, kind, cls, ratio, amount, begin, end))
    if problems:
        raise FileRefused(what, problems)
    return out


def load_terms(
    db: Database, actor: Actor, infno: str, text: str, *, now: dt.datetime | None = None
) -> LoadReport:
    """Load one 1312/1318/1319 answer in one transaction; a term held as it is changes nothing."""
    actor.require("catalogue")
    rows = read_terms(infno, text)
    at = now or dt.datetime.now()
    kind = TERM_QUERIES[infno]
    with db.transaction() as session:
        held = {
            (t.code, t.begndate): t
            for t in session.scalars(select(NationalTerm).where(NationalTerm.kind == kind))
        }
        new, changed = [], 0
        for r in rows:
            old = held.get((r.code, r.begndate))
            if old is None:
                new.append(
                    {
                        "code": r.code,
                        "kind": kind,
                        "cls": r.cls,
                        "ratio": r.ratio,
                        "amount": r.amount,
                        "begndate": r.begndate,
                        "enddate": r.enddate,
                    }
                )
            elif (old.cls, old.ratio, old.amount, old.enddate) != (r.cls, r.ratio, r.amount, r.enddate):
                old.cls, old.ratio, old.amount, old.enddate = r.cls, r.ratio, r.amount, r.enddate
                changed += 1
        for start in range(0, len(new), CHUNK):
            session.execute(insert(NationalTerm), new[start : start + CHUNK])
        version = at.strftime("%Y%m%d%H%M%S")
        _stamp(session, infno, version, len(rows), at)
        report = LoadReport(infno, version, len(rows), len(new), changed, len(rows) - len(new) - changed)
        record(
            session,
            actor,
            "catalogue_terms",
            infno,
            at=at,
            seal_tables=("national_term",),
            after={"read": report.read, "added": report.added, "changed": report.changed},
        )
    return report


def terms_on(session: Session, codes: Iterable[str], day: dt.date) -> dict[str, Terms]:
    """The terms in force on `day` of each national code that the catalogue knows (one query)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = session.scalars(select(NationalTerm).where(NationalTerm.code.in_(wanted), in_force(day)))
    found: dict[str, list[NationalTerm]] = {}
    for t in rows:
        found.setdefault(t.code, []).append(t)
    known = set(session.scalars(select(NationalItem.code).where(NationalItem.code.in_(wanted))))
    return {code: combine(found.get(code, ())) for code in wanted if code in known}


def combine(in_force: Iterable[NationalTerm]) -> Terms:
    """One code's Terms from its terms in force on a day (the newest of each kind wins)."""
    per: dict[str, NationalTerm] = {}
    for t in in_force:
        if t.kind not in per or per[t.kind].begndate < t.begndate:
            per[t.kind] = t
    selfpay = per["selfpay"].ratio if "selfpay" in per else None
    cap = per["cap"].amount if "cap" in per else None
    return Terms(per["class"].cls if "class" in per else None, selfpay or Decimal(0), cap)


def in_force(day: Any) -> Any:
    """The SQL condition that a national term holds on `day` (a value or a bound parameter)."""
    return and_(
        NationalTerm.begndate <= day, or_(NationalTerm.enddate.is_(None), NationalTerm.enddate >= day)
    )
