"""Rows of a table a hospital hands over: CSV (UTF-8, with or without BOM, or GB18030 as Excel in
China saves it) or Excel (.xlsx, the first sheet, through openpyxl). The first row names the
columns, in Chinese or English (each import lists the names it knows); every later row is a record
with its line number, for the import to name a bad line exactly.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .errors import ServiceError

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_PROBLEMS_SHOWN = 20


class TableError(ServiceError):
    """The file cannot be read as a table; nothing was imported."""


class FileRefused(ServiceError):
    """A file an import refuses whole (bad rows, or not the file it should be): nothing of it was
    written; `problems` names each bad line. Every go-live and population import raises it."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        shown = "；".join(problems[:MAX_PROBLEMS_SHOWN])
        more = (
            f"（另有 {len(problems) - MAX_PROBLEMS_SHOWN} 处）" if len(problems) > MAX_PROBLEMS_SHOWN else ""
        )
        super().__init__(f"{what}有 {len(problems)} 处错误，未导入任何一行：{shown}{more}")
        self.problems = list(problems)


def code_ok(code: str, limit: int) -> bool:
    """A code as the imports take one: 1 to `limit` printable ASCII characters, no space."""
    return bool(code) and len(code) <= limit and code.isascii() and code.isprintable() and " " not in code


@dataclass(frozen=True)
class Record:
    line: int  # the line (CSV) or row (Excel) number, counting the header as 1
    values: dict[str, str]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel keeps numbers as binary floats: 12.5 was typed 12.5, and repr gives the shortest
        # text that reads back the same, which is what the clerk typed.
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, Decimal):
        return str(value)
    return str(value).strip()


def _rows_of(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise TableError(f"没有文件 {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise TableError(f"{path.name} 过大（超过 {MAX_FILE_BYTES // 1024 // 1024} MB）")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
            raise TableError(f"{path.name} 不是可读的 Excel 文件：{exc}") from None
        try:
            sheet = book.worksheets[0]
            return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        finally:
            book.close()
    if suffix in (".csv", ".txt"):
        raw = path.read_bytes()
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:  # pragma: no cover - gb18030 decodes any byte string
            raise TableError(f"{path.name} 的编码无法识别")
        try:
            return [[c.strip() for c in row] for row in csv.reader(io.StringIO(text, newline=""))]
        except csv.Error as exc:
            raise TableError(f"{path.name} 不是有效的 CSV：{exc}") from None
    raise TableError(f"{path.name}：只能导入 .csv 或 .xlsx 文件")


def read(path: Path, columns: Mapping[str, Sequence[str]], required: Sequence[str]) -> list[Record]:
    """The records of `path` by column key; `columns` maps each key to the header names it may
    have (e.g. "code": ("医院项目编码", "code")). Unknown headers are an error (a typo would
    otherwise drop a column silently), as is a missing required one."""
    rows = _rows_of(path)
    if not rows or not any(rows[0]):
        raise TableError(f"{path.name} 是空的：第一行应是列名")
    header = rows[0]
    by_name = {name.strip().lower(): key for key, names in columns.items() for name in names}
    keys: list[str | None] = []
    unknown = []
    for name in header:
        if not name.strip():
            keys.append(None)
            continue
        key = by_name.get(name.strip().lower())
        if key is None:
            unknown.append(name)
        keys.append(key)
    if unknown:
        known = "、".join(names[0] for names in columns.values())
        raise TableError(f"{path.name} 有不认识的列：{'、'.join(unknown)}（认识的列：{known}）")
    missing = [columns[k][0] for k in required if k not in keys]
    if missing:
        raise TableError(f"{path.name} 缺少必需的列：{'、'.join(missing)}")
    records = []
    for n, row in enumerate(rows[1:], 2):
        if not any(c.strip() for c in row):
            continue
        values = {k: (row[i] if i < len(row) else "") for i, k in enumerate(keys) if k is not None}
        records.append(Record(n, values))
    return records
