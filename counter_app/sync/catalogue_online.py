"""The national catalogues online, from the centre (national-interface.md, "Catalogues (1301–1319)
and file downloads (9102)"):

- **a download** (1301, 1302, 1305, 1306; diseases 1307, 1309) sends `data.ver`, the newest version
  held; the answer names a file (`file_qury_no`, `filename`, `dld_end_time`, `data_cnt`), fetched
  with 9102 and loaded by the same service as a file a hospital was handed
  (services/national_catalogue.py). `data_cnt` 0 means nothing newer: no file is fetched. A file
  whose line count is not the answer's `data_cnt` is refused before anything is written.
- **a term query** (1312 class, 1318 price cap, 1319 first self-pay ratio) is paged: every page is
  fetched first, then all of them load in one transaction.

Project readings (the sources do not settle them):
- the version a download brings is read from its file name: `<catalogue>-<ver>.zip`, the go-live
  folder's name (services/go_live.py), gives `<ver>`; any other name, its stem. A centre whose names
  carry no version costs a full download next time, which changes nothing already held;
- a term query asks for every record (`updt_time` 2000-01-01): a load of terms held as they are
  writes nothing, so asking for all is slower, never wrong;
- fsDownloadIn.fixmedins_code is `plc` for a catalogue file (fields.CATALOGUE_FILE_CODE).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

from ..services import national_catalogue as nc
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.go_live import DOWNLOAD
from ..services.table_file import FileRefused
from ..store import Database
from . import answers
from . import fields as F
from .client import BadAnswer, CentreClient
from .conversation import Conversation

PAGE_SIZE = 1000
MAX_PAGES = 1000
EVERYTHING_SINCE = "2000-01-01 00:00:00"


def version_of(filename: str, catalogue: str) -> str:
    """The version a download file brings, read from its name (see above)."""
    name = filename.rsplit("/", 1)[-1]
    match = DOWNLOAD.match(name)
    if match and match.group(1) == catalogue:
        return match.group(2)
    return name.rsplit(".", 1)[0] if "." in name else name


def download(
    db: Database,
    client: CentreClient,
    actor: Actor,
    catalogue: str,
    *,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> nc.LoadReport:
    """Ask the centre for what is newer than the version held of `catalogue`, and load it."""
    actor.require("catalogue")
    if catalogue not in F.CATALOGUE_DOWNLOADS:
        raise ServiceError(f"不认识的目录 {catalogue}（可下载的目录：{', '.join(F.CATALOGUE_DOWNLOADS)}）")
    at = now or dt.datetime.now()
    talk = Conversation.of(db, client, actor.institution_code, actor.staff_no, at)
    held = nc.held_version(db, catalogue)
    answer = talk.send(catalogue, {"data": {"ver": held}})
    count = answers.count(answer.get("data_cnt"), "data_cnt")
    filename = answers.text(answer.get("filename"))
    if count == 0:
        return nc.LoadReport(catalogue, held, 0, 0, 0, 0)
    content = talk.download(answers.text(answer["file_qury_no"]), filename, F.CATALOGUE_FILE_CODE)
    version = version_of(filename, catalogue)
    try:
        rows = nc.read_download(content, catalogue)
    except FileRefused as exc:
        raise BadAnswer(f"中心下发的目录文件 {filename} 无法读取：{exc}", {}) from None
    if count is not None and len(rows) != count:
        raise BadAnswer(f"中心下发的目录文件 {filename} 有 {len(rows)} 行，应答的 data_cnt 为 {count}", {})
    return nc.load_download(db, actor, catalogue, version, content, now=at, progress=progress)


def query_terms(
    db: Database,
    client: CentreClient,
    actor: Actor,
    infno: str,
    *,
    page_size: int = PAGE_SIZE,
    now: dt.datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> nc.LoadReport:
    """Every page of a 1312/1318/1319 query, then one load of them all."""
    actor.require("catalogue")
    if infno not in F.TERM_QUERIES:
        raise ServiceError(f"不认识的目录查询 {infno}（{', '.join(F.TERM_QUERIES)}）")
    at = now or dt.datetime.now()
    talk = Conversation.of(db, client, actor.institution_code, actor.staff_no, at)
    pages, number, total = [], 1, 1
    while number <= total:
        page = talk.send(
            infno,
            {
                "data": {
                    "query_date": at.date().isoformat(),
                    "updt_time": EVERYTHING_SINCE,
                    "page_num": number,
                    "page_size": page_size,
                    "insu_admdvs": talk.inst.admdvs,
                }
            },
        )
        pages.append({"data": page["data"]})
        counted = answers.count(page.get("pages"), "pages")
        total = counted if counted is not None else (number + 1 if len(page["data"]) >= page_size else number)
        if total > MAX_PAGES:
            raise BadAnswer(f"中心答 {total} 页，超过 {MAX_PAGES} 页", {})
        if progress:
            progress(number, total)
        number += 1
    try:
        return nc.load_terms(db, actor, infno, json.dumps(pages, ensure_ascii=False), now=at)
    except FileRefused as exc:
        raise BadAnswer(f"中心的 {infno} 查询结果无法读取：{exc}", {}) from None
