"""The files of detail reconciliation (3202), as public integration code writes them
(national-interface.md, "Reconciliation in detail"): a zip holding one tab-separated text file,
one line per settlement; an empty value is written as nothing and read from nothing or `null`.

- uploaded with 9101: `setl_id`, `mdtrt_id`, `psn_no`, `medfee_sumamt`, `fund_pay_sumamt`,
  `acct_pay`, `refd_setl_flag` (1 for a refund line, 0 otherwise; zebone's columns);
- the result fetched with 9102: `psn_no`, `mdtrt_id`, `setl_id`, `msgid`, `stmt_rslt`,
  `refd_setl_flag`, `memo`.
"""

from __future__ import annotations

import base64
import io
import zipfile
from collections.abc import Iterable, Mapping, Sequence

UPLOAD_COLUMNS = (
    "setl_id",
    "mdtrt_id",
    "psn_no",
    "medfee_sumamt",
    "fund_pay_sumamt",
    "acct_pay",
    "refd_setl_flag",
)
RESULT_COLUMNS = ("psn_no", "mdtrt_id", "setl_id", "msgid", "stmt_rslt", "refd_setl_flag", "memo")
MAX_FILE_BYTES = 64 * 1024 * 1024


class BadFile(ValueError):
    """Not a reconciliation file this counter can read; the text says why."""


def write(name: str, columns: Sequence[str], rows: Iterable[Mapping[str, object]]) -> bytes:
    """The zip bytes of one tab-separated file `name` with the rows' `columns`."""
    lines = ["\t".join(_cell(row.get(c)) for c in columns) for row in rows]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, "\n".join(lines) + ("\n" if lines else ""))
    return buffer.getvalue()


def read(data: bytes, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows of the one text file inside the zip, by `columns` (positional, as the files are)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [i for i in archive.infolist() if not i.is_dir()]
            if len(names) != 1:
                raise BadFile(f"对账文件应含一个文本文件，含 {len(names)} 个")
            if names[0].file_size > MAX_FILE_BYTES:
                raise BadFile("对账文件过大")
            text = archive.read(names[0]).decode("utf-8")
    except (zipfile.BadZipFile, UnicodeDecodeError, EOFError) as exc:
        raise BadFile(f"对账文件无法读取：{exc}") from None
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise BadFile(f"对账文件第 {n} 行应有 {len(columns)} 列，有 {len(cells)} 列")
        rows.append({c: ("" if v == "null" else v) for c, v in zip(columns, cells, strict=False)})
    return rows


def encode(data: bytes) -> str:
    """The bytes as 9101 sends them in `in` (base64 text, as newtouch does)."""
    return base64.b64encode(data).decode("ascii")


def decode(text: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise BadFile(f"文件内容不是 base64：{exc}") from None


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\t", " ").replace("\n", " ")
