"""What the reference centre publishes of the national catalogues: a folder of the platform's own
files, laid out as a hospital's go-live folder (services/go_live.py): `1301-<ver>.zip` … for the
downloads, `1312.json` … (a query answer, or a list of records) for the paged term queries.

A download asking after version `ver` gets the lines of every newer file of that catalogue, the
newest line of a code winning, as one file named by the newest version; nothing newer is an answer
with `data_cnt` 0. A query pages the records by `page_num`/`page_size`; a record with an
`updt_time` no later than the one asked after is left out.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from counter_app.services.go_live import DOWNLOAD

from .inputs import Refusal

MAX_PAGE_SIZE = 5000


class Published:
    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _files(self, catalogue: str) -> list[tuple[str, Path]]:
        if self.folder is None:
            return []
        found = [
            (m.group(2), p)
            for p in self.folder.iterdir()
            if (m := DOWNLOAD.match(p.name)) is not None and m.group(1) == catalogue
        ]
        return sorted(found)

    def newer(self, catalogue: str, ver: str) -> tuple[str, list[str]]:
        """(the newest version, the lines newer than `ver`); (ver, []) when nothing is newer."""
        lines: dict[str, str] = {}
        newest = ver
        for version, path in self._files(catalogue):
            if version <= ver:
                continue
            newest = version
            with zipfile.ZipFile(path) as archive:
                text = archive.read(archive.infolist()[0]).decode("utf-8-sig")
            for line in text.splitlines():
                if line.strip():
                    lines[line.split("\t", 1)[0]] = line
        return newest, list(lines.values())

    def page(self, infno: str, data: dict[str, Any]) -> dict[str, Any]:
        """One page of a term query, as newtouch reads it (recordCounts, pages, pageNum, pageSize, data)."""
        number, size = data.get("page_num"), data.get("page_size")
        if (
            not isinstance(number, int)
            or not isinstance(size, int)
            or number < 1
            or not 1 <= size <= MAX_PAGE_SIZE
        ):
            raise Refusal(f"page_num 应为正整数，page_size 应为 1 到 {MAX_PAGE_SIZE}")
        since = str(data.get("updt_time") or "")
        records = [r for r in self._records(infno) if str(r.get("updt_time") or "9999") > since]
        pages = max(1, -(-len(records) // size))
        return {
            "recordCounts": len(records),
            "pages": pages,
            "pageNum": number,
            "pageSize": size,
            "data": records[(number - 1) * size : number * size],
        }

    def _records(self, infno: str) -> list[dict[str, Any]]:
        path = self.folder / f"{infno}.json" if self.folder else None
        if path is None or not path.is_file():
            return []
        doc = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict):
            doc = (doc.get("output") or doc).get("data", [])
        return [r for r in doc if isinstance(r, dict)]
