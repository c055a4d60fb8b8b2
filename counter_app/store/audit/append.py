"""Writing the chain: the money rows a transaction wrote are noted as they are written, and its
entry is appended (serialised: SQLite's write lock, PostgreSQL's advisory lock) with their seals;
the first entry of a database, and adopting rows written before the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from .. import audit_key
from .chain import (
    _HEAD,
    _IN_CHUNK,
    _INSERT,
    _INSERT_SEAL,
    _LOCK,
    ADVISORY_KEY,
    GENESIS_PREV,
    INLINE_SEALS,
    SEALED,
    TABLE_SEALED,
    _ranges,
    _row_digest,
    _seal_rows,
    canonical,
    entry_hash,
    rows_digest,
    table_digest,
)
from .verify import uncovered, unsealed

_PENDING = "audit_pending"  # Session.info key: rows and tables written, waiting for their entry


def _pending(session: Session) -> dict[str, Any]:
    """What this transaction wrote of sealed tables, waiting for its entry: row ids by table, ORM
    objects (their ids come with the flush), digests of rows sealed as written, whole tables."""
    pending: dict[str, Any] = session.info.setdefault(
        _PENDING, {"rows": {}, "objects": [], "digests": {}, "tables": set()}
    )
    return pending


def mark_written(session: Session, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
    """Note rows of a sealed table just inserted with these values (their ids included, e.g. by
    RETURNING): sealed without reading them back. `verify` re-reads them, so a value that does not
    round-trip shows at once."""
    digests = _pending(session)["digests"]
    for row in rows:
        digests[(table, row["id"])] = _row_digest(table, [row[c] for c in SEALED[table]])


def mark_table(session: Session, table: str) -> None:
    """Note that a whole-table-sealed table (a catalogue) was changed in this transaction."""
    _pending(session)["tables"].add(table)


@event.listens_for(Session, "before_flush")
def _note_sealed_objects(session: Session, _context: Any, _instances: Any) -> None:
    """ORM writes of sealed rows are noted without the caller saying so."""
    for obj in (*session.new, *session.dirty, *session.deleted):
        table = getattr(getattr(obj, "__table__", None), "name", None)
        if table in SEALED:
            _pending(session)["objects"].append((table, obj))
        elif table in TABLE_SEALED:
            mark_table(session, table)


def _take_pending(
    conn: Connection | Session,
) -> tuple[dict[str, set[int]], dict[tuple[str, int], str], set[str]]:
    """What this transaction noted: row ids to read and seal, rows sealed as written, tables."""
    if not isinstance(conn, Session):
        return {}, {}, set()
    conn.flush()  # new sealed objects get their ids
    pending = conn.info.pop(_PENDING, None)
    if not pending:
        return {}, {}, set()
    rows: dict[str, set[int]] = pending["rows"]
    for table, obj in pending["objects"]:
        ident = getattr(obj, "id", None)
        if ident is not None:
            rows.setdefault(table, set()).add(ident)
    return rows, pending["digests"], pending["tables"]


@dataclass(frozen=True)
class Appended:
    id: int
    hash: str


def append(
    conn: Connection | Session,
    *,
    at: dt.datetime,
    staff_no: str,
    counter: str,
    action: str,
    obj: str,
    before: Any = None,
    after: Any = None,
    covers: Mapping[str, Iterable[int]] | None = None,
    written: dict[str, list[dict[str, Any]]] | None = None,
    head: tuple[int | None, str | None] | None = None,
    seal: Mapping[str, Iterable[int]] | None = None,
    seal_tables: Iterable[str] = (),
    keyed: bool = True,
) -> Appended:
    """Link one entry to the chain, in the caller's transaction (after its rows are flushed).

    `written` gives covered rows' values as inserted, so they are hashed without being read again.
    `head` is the chain's head read earlier in this transaction (`head_columns`), accepted on SQLite
    only, whose BEGIN IMMEDIATE has held the write lock since then. Were it stale, the entry's id
    (head + 1, the primary key) would collide and the transaction fail: it cannot fork the chain.
    `seal` (table -> ids) and `seal_tables` add to the rows and tables this transaction noted
    (ORM writes, `mark_written`, `mark_table`): the entry seals them as they are now. `keyed=False` only
    for the chain's entries from before it was keyed (migration 0005)."""
    key = audit_key.current() if keyed else None
    if keyed and key is None:
        raise audit_key.AuditKeyError(
            f"no audit key on this machine ({audit_key.key_path()}): copy it from the counter that set "
            'up the database (README, "Trust and safety")'
        )
    sealed_rows, sealed_written, sealed_tables = _take_pending(conn)
    for table, ids in (seal or {}).items():
        sealed_rows.setdefault(table, set()).update(ids)
    sealed_tables |= set(seal_tables)
    dialect = conn.get_bind().dialect if isinstance(conn, Session) else conn.dialect
    if dialect.name == "postgresql":
        conn.execute(_LOCK, {"k": ADVISORY_KEY})
    if head is not None and dialect.name == "sqlite":
        last = (head[0], head[1] or GENESIS_PREV) if head[0] is not None else None
    else:
        row = conn.execute(_HEAD).first()
        last = (row.id, row.hash) if row is not None else None
    entry_id, prev = (last[0] + 1, last[1]) if last is not None else (1, GENESIS_PREV)
    ranges = {t: _ranges(ids) for t, ids in (covers or {}).items() if ids}
    body: dict[str, Any] = {"before": before, "after": after}
    if ranges:
        body["covers"] = ranges
        body["rows_sha256"] = rows_digest(conn, ranges, written)
    seals = _seal_rows(conn, sealed_rows) if sealed_rows else []
    if sealed_written:
        read = {(t, i) for t, i, _d in seals}
        seals = sorted(seals + [[t, i, d] for (t, i), d in sealed_written.items() if (t, i) not in read])
    if len(seals) > INLINE_SEALS:
        body["seals"] = len(seals)
        body["seals_sha256"] = hashlib.sha256(canonical(seals)).hexdigest()
    elif seals:
        body["sealed"] = seals
    if sealed_tables:
        body["tables"] = {t: table_digest(conn, t) for t in sorted(sealed_tables)}
    detail = canonical(body).decode()
    staff_no, counter, action, obj = staff_no[:30], counter[:30], action[:30], obj[:100]
    digest = entry_hash(entry_id, at, staff_no, counter, action, obj, detail, prev, key)
    conn.execute(
        _INSERT,
        dict(
            id=entry_id,
            at=at,
            staff_no=staff_no,
            counter=counter,
            action=action,
            object=obj,
            detail=detail,
            prev_hash=prev,
            hash=digest,
        ),
    )
    for k in range(0, len(seals) if len(seals) > INLINE_SEALS else 0, _IN_CHUNK):
        conn.execute(
            _INSERT_SEAL,
            [
                {"entry_id": entry_id, "tbl": t, "row_id": i, "digest": d}
                for t, i, d in seals[k : k + _IN_CHUNK]
            ],
        )
    return Appended(entry_id, digest)


def adopt(
    conn: Connection | Session,
    *,
    at: dt.datetime,
    staff_no: str,
    counter: str,
    action: str,
    obj: str,
    keyed: bool = True,
) -> Appended | None:
    """One entry covering every money row no entry covers yet, and (keyed: since migration 0013)
    sealing every row and table no seal names: the migrations' genesis, and data loaded in bulk
    (demo data). Never offered to a user: rows forged by SQL stay uncovered."""
    rows = uncovered(conn)
    loose, tables = unsealed(conn) if keyed else ({}, [])
    if not rows and not loose and not tables:
        return None
    return append(
        conn,
        at=at,
        staff_no=staff_no,
        counter=counter,
        action=action,
        obj=obj,
        after={t: len(ids) for t, ids in rows.items()}
        | {f"sealed {t}": len(ids) for t, ids in loose.items()},
        covers=rows,
        seal=loose,
        seal_tables=tables,
        keyed=keyed,
    )


def genesis(conn: Connection) -> None:
    """Called by migration 0005: the rows written before the chain existed (not yet keyed)."""
    adopt(
        conn,
        at=dt.datetime.now().replace(microsecond=0),
        staff_no="system",
        counter="migration",
        action="genesis",
        obj="migration 0005",
        keyed=False,
    )
