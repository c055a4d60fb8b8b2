"""Day one at a hospital: load a folder of go-live files in the order each needs the one before.

    1301-<ver>.zip 1302-… 1305-… 1306-…   the national item catalogues (download files)
    1307-<ver>.zip 1309-<ver>.zip          the disease catalogues
    1312.json 1318.json 1319.json          class, price cap, first self-pay ratio (query answers)
    price_list.csv | .xlsx                 the hospital's price list with its national codes
    departments.csv | .xlsx                departments (one marked 默认)
    doctors.csv | .xlsx                    doctors (one 默认 per department)

Each file is loaded by its own service in its own transaction (a bad file stops the run there,
having written nothing of itself). The demo writes such a folder and loads it the same way.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store import Database
from . import clinical, national_catalogue, price_list
from .actor import Actor
from .errors import ServiceError

DOWNLOAD = re.compile(r"^(13\d\d)-(.+)\.zip$")
TABLES = ("price_list", "departments", "doctors")


@dataclass(frozen=True)
class Step:
    file: str
    said: str


def _table(folder: Path, stem: str) -> Path | None:
    for suffix in (".csv", ".xlsx"):
        if (folder / f"{stem}{suffix}").is_file():
            return folder / f"{stem}{suffix}"
    return None


def load_folder(
    db: Database,
    actor: Actor,
    folder: Path,
    institution_code: str,
    *,
    say: Callable[[str], None] | None = None,
) -> list[Step]:
    """Load every go-live file in `folder`, in order; what each load said."""
    if not folder.is_dir():
        raise ServiceError(f"没有文件夹 {folder}")
    steps: list[Step] = []

    def done(file: str, said: str) -> None:
        steps.append(Step(file, said))
        if say:
            say(f"{file}: {said}")

    downloads = sorted(
        (m.group(1), m.group(2), p) for p in folder.iterdir() if (m := DOWNLOAD.match(p.name)) is not None
    )
    for catalogue, version, path in downloads:
        report = national_catalogue.load_download(db, actor, catalogue, version, path.read_bytes())
        done(path.name, report.describe())
    for infno in national_catalogue.TERM_QUERIES:
        path = folder / f"{infno}.json"
        if path.is_file():
            report = national_catalogue.load_terms(db, actor, infno, path.read_text(encoding="utf-8"))
            done(path.name, report.describe())
    table = _table(folder, "price_list")
    if table is not None:
        done(table.name, price_list.import_file(db, actor, table).describe())
    table = _table(folder, "departments")
    if table is not None:
        added, changed = clinical.import_departments(db, actor, institution_code, table)
        done(table.name, f"科室新增 {added}，变更 {changed}")
    table = _table(folder, "doctors")
    if table is not None:
        added, changed = clinical.import_doctors(db, actor, institution_code, table)
        done(table.name, f"医师新增 {added}，变更 {changed}")
    if not steps:
        raise ServiceError(f"{folder} 中没有可导入的文件（见 README“医院上线”）")
    return steps


# --- writing such files (the demo, the tests, and a hospital's own conversion scripts) ---------


def write_download(folder: Path, catalogue: str, version: str, rows: Iterable[Sequence[str]]) -> Path:
    path = folder / f"{catalogue}-{version}.zip"
    path.write_bytes(national_catalogue.write_download(rows, f"{catalogue}.txt"))
    return path


def write_terms(folder: Path, infno: str, records: list[dict[str, Any]]) -> Path:
    """A query answer as the platform pages it (one page holding every record)."""
    path = folder / f"{infno}.json"
    page = {"recordCounts": len(records), "pages": 1, "pageNum": 1, "pageSize": len(records), "data": records}
    path.write_text(
        json.dumps({"infcode": 0, "output": page}, ensure_ascii=False, default=str), encoding="utf-8"
    )
    return path


def write_table(folder: Path, stem: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """A CSV as Excel writes it for Chinese text (UTF-8 with a byte-order mark)."""
    path = folder / f"{stem}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path
