"""Reading the chain back: every entry's hash and link, every covered row against its seal, money
rows no entry covers, the audit key, and an anchor kept outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from .. import audit_key
from ..models import Base
from .chain import (
    _ENTRY,
    _SEAL,
    COVERED,
    GENESIS_PREV,
    GONE,
    SEALED,
    TABLE_SEALED,
    _expand,
    _present,
    _ranges,
    _row_digest,
    _short,
    canonical,
    entry_hash,
    identity,
    rows_digest,
    table_digest,
)


def uncovered(conn: Connection | Session) -> dict[str, list[int]]:
    """Money rows no audit entry covers, by table (empty lists left out)."""
    covered = _covered_ids(conn)
    out = {}
    for table in _present(conn, COVERED):
        t = Base.metadata.tables[table]
        ids = [i for (i,) in conn.execute(select(t.c.id).order_by(t.c.id)) if i not in covered[table]]
        if ids:
            out[table] = ids
    return out


def _covered_ids(conn: Connection | Session) -> dict[str, set[int]]:
    covered: dict[str, set[int]] = {t: set() for t in COVERED}
    table = Base.metadata.tables["audit_entry"]
    for (detail,) in conn.execute(select(table.c.detail)):
        for t, ranges in json.loads(detail).get("covers", {}).items():
            covered.setdefault(t, set()).update(_expand(ranges))
    return covered


def unsealed(conn: Connection | Session) -> tuple[dict[str, list[int]], list[str]]:
    """Rows of sealed tables that no seal names, and non-empty whole-sealed tables no entry sealed."""
    sealed: dict[str, set[int]] = {t: set() for t in SEALED}
    for _entry, tbl, row_id, _digest in _all_seals(_inline_seals(conn), _seal_groups(conn)):
        sealed.setdefault(tbl, set()).add(row_id)
    rows = {}
    for table in _present(conn, SEALED):
        t = Base.metadata.tables[table]
        ids = [i for (i,) in conn.execute(select(t.c.id).order_by(t.c.id)) if i not in sealed[table]]
        if ids:
            rows[table] = ids
    held = _table_seals(conn)
    tables = [
        table for table in _present(conn, TABLE_SEALED) if table not in held and not _empty(conn, table)
    ]
    return rows, tables


def _inline_seals(conn: Connection | Session) -> dict[int, list[list[Any]]]:
    """Seals entries keep in their detail, by entry."""
    out: dict[int, list[list[Any]]] = {}
    for entry_id, detail in conn.execute(
        select(_ENTRY.c.id, _ENTRY.c.detail).where(_ENTRY.c.detail.like('%"sealed":%'))
    ):
        try:
            out[entry_id] = json.loads(detail).get("sealed", [])
        except ValueError:
            continue
    return out


def _all_seals(
    inline: dict[int, list[list[Any]]], stored: dict[int, list[list[Any]]]
) -> list[tuple[int, str, int, str]]:
    """Every seal (entry, table, row, digest), kept inline and in audit_seal (`_seal_groups`), oldest
    entry first."""
    seals = [(e, t, i, d) for group in (inline, stored) for e, rows in group.items() for t, i, d in rows]
    seals.sort(key=lambda s: s[0])
    return seals


def _empty(conn: Connection | Session, table: str) -> bool:
    return conn.execute(select(Base.metadata.tables[table].c.id).limit(1)).first() is None


def _table_seals(conn: Connection | Session) -> dict[str, tuple[int, str]]:
    """Per whole-sealed table, the newest entry that sealed it and the digest it recorded."""
    out: dict[str, tuple[int, str]] = {}
    for entry_id, detail in conn.execute(
        select(_ENTRY.c.id, _ENTRY.c.detail).where(_ENTRY.c.detail.like('%"tables":%')).order_by(_ENTRY.c.id)
    ):
        try:
            tables = json.loads(detail).get("tables", {})
        except ValueError:
            continue
        out |= {table: (entry_id, digest) for table, digest in tables.items()}
    return out


@dataclass(frozen=True)
class Problem:
    entry_id: int | None  # the first audit entry concerned, or None for a row no entry covers
    what: str


def key_problem(conn: Connection | Session, ident: Any = None) -> str | None:
    """Why this machine's audit key cannot serve this database, or None when it can (`ident`: its
    identity row, if the caller read it already)."""
    ident = ident if ident is not None else identity(conn)
    if ident is None:
        return None
    try:
        key = audit_key.current()
    except audit_key.AuditKeyError as exc:
        return str(exc)
    if key is None:
        return (
            f"this machine has no audit key ({audit_key.key_path()}); the database's chain is keyed "
            f"from entry {ident.keyed_from}: copy the key file from the counter that set it up"
        )
    if not hmac.compare_digest(audit_key.key_check(key, ident.identity, ident.keyed_from), ident.key_check):
        return (
            f"the audit key {audit_key.key_path()} is not this database's (or its identity row was "
            "edited): use the key file of the counter that set the database up"
        )
    return None


Anchor = tuple[int, str]  # (entry id, its hash or the hash's first 16+ hex digits)


def parse_anchor(text_: str) -> Anchor:
    """`ID:HASH` as the day-close report and the backup record print it."""
    ident, _, digest = text_.strip().partition(":")
    if not ident.isdigit() or len(digest) < 16 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not an audit anchor ID:HASH (at least 16 hex digits): {text_!r}")
    return int(ident), digest


def verify(conn: Connection | Session, *, anchor: Anchor | None = None) -> list[Problem]:
    """Every break in the chain, first first; empty when the chain and the rows agree. From the
    database's `keyed_from` on, entries must check out under this machine's key; `anchor`, a head
    kept outside the database, must still be in the chain (a cut tail shows)."""
    table = Base.metadata.tables["audit_entry"]
    problems: list[Problem] = []
    ident = identity(conn)
    keyed_from = ident.keyed_from if ident is not None else None
    trouble = key_problem(conn, ident)
    if trouble:
        problems.append(Problem(keyed_from, trouble))
    key = None if trouble else audit_key.current()
    seal_groups = _seal_groups(conn) if ident is not None else {}
    inline: dict[int, list[list[Any]]] = {}  # the seals entries keep in their detail, read on the way
    table_seals: dict[str, tuple[int, str]] = {}  # the newest digest of each whole-sealed table
    seen: set[int] = set()
    prev_id, prev_hash = 0, GENESIS_PREV
    anchored = None
    for row in conn.execute(select(table).order_by(table.c.id)):
        if row.id != prev_id + 1:
            problems.append(Problem(row.id, f"entries {prev_id + 1}..{row.id - 1} are missing (deleted)"))
        if row.prev_hash != prev_hash:
            problems.append(
                Problem(
                    row.id,
                    "prev_hash does not match the entry before it "
                    "(an entry was deleted, inserted or changed)",
                )
            )
        if keyed_from is None or row.id < keyed_from or key is not None:
            expected = entry_hash(
                row.id,
                row.at,
                row.staff_no,
                row.counter,
                row.action,
                row.object,
                row.detail,
                row.prev_hash,
                key if keyed_from is not None and row.id >= keyed_from else None,
            )
            if row.hash != expected:
                problems.append(
                    Problem(row.id, f"its content does not match its hash ({row.action} {row.object})")
                )
        if anchor is not None and row.id == anchor[0]:
            anchored = row.hash
        try:
            body = json.loads(row.detail)
        except ValueError:
            problems.append(Problem(row.id, "its detail is not JSON"))
            body = {}
        if body.get("covers") and rows_digest(conn, body["covers"]) != body.get("rows_sha256"):
            problems.append(
                Problem(
                    row.id,
                    f"rows it wrote were changed or deleted ({row.action} {row.object}: "
                    + ", ".join(f"{t} {_short(r)}" for t, r in body["covers"].items())
                    + ")",
                )
            )
        if body.get("sealed"):
            inline[row.id] = body["sealed"]
        table_seals |= {t: (row.id, d) for t, d in (body.get("tables") or {}).items()}
        seen.add(row.id)
        group = seal_groups.get(row.id, [])
        if (body.get("seals_sha256") or group) and (
            hashlib.sha256(canonical(group)).hexdigest() != body.get("seals_sha256")
        ):
            problems.append(
                Problem(row.id, f"the seals it recorded were changed or deleted ({row.action} {row.object})")
            )
        prev_id, prev_hash = row.id, row.hash
    for entry_id in sorted(set(seal_groups) - seen):
        problems.append(Problem(entry_id, f"seals name entry {entry_id}, which is not in the chain"))
    if anchor is not None:
        if prev_id < anchor[0]:
            problems.append(
                Problem(
                    prev_id + 1,
                    f"the chain ends at entry {prev_id} but the anchor kept outside names entry "
                    f"{anchor[0]}: entries {prev_id + 1}..{anchor[0]} were cut off with their rows",
                )
            )
        elif anchored is None or not anchored.startswith(anchor[1]):
            problems.append(
                Problem(
                    anchor[0], f"entry {anchor[0]} is not the one anchored outside (the chain was rewritten)"
                )
            )
    for t, ids in uncovered(conn).items():
        problems.append(
            Problem(
                None,
                f"{t} rows {_short(_ranges(ids))} are covered by no audit entry "
                "(written outside the application)",
            )
        )
    if ident is not None:
        problems += _sealed_rows_problems(conn, _all_seals(inline, seal_groups))
        problems += _sealed_tables_problems(conn, table_seals)
    return problems


def _seal_groups(conn: Connection | Session) -> dict[int, list[list[Any]]]:
    groups: dict[int, list[list[Any]]] = {}
    for entry_id, tbl, row_id, digest in conn.execute(
        select(_SEAL.c.entry_id, _SEAL.c.tbl, _SEAL.c.row_id, _SEAL.c.digest).order_by(
            _SEAL.c.entry_id, _SEAL.c.tbl, _SEAL.c.row_id
        )
    ):
        groups.setdefault(entry_id, []).append([tbl, row_id, digest])
    return groups


def _sealed_rows_problems(
    conn: Connection | Session, seals: list[tuple[int, str, int, str]]
) -> list[Problem]:
    """Each sealed row against its newest seal (`_all_seals`): changed, written or deleted outside
    the application."""
    newest = {(tbl, row_id): (entry_id, digest) for entry_id, tbl, row_id, digest in seals}
    problems = []
    for table, names in SEALED.items():
        t = Base.metadata.tables[table]
        changed: list[int] = []
        loose: list[int] = []
        first_entry: int | None = None
        for r in conn.execute(select(*[t.c[n] for n in names]).order_by(t.c.id)):
            seal = newest.pop((table, r[0]), None)
            if seal is None:
                loose.append(r[0])
            elif seal[1] != _row_digest(table, r):
                changed.append(r[0])
                first_entry = seal[0] if first_entry is None else min(first_entry, seal[0])
        gone = sorted(i for (tbl, i), (_e, d) in newest.items() if tbl == table and d != GONE)
        if changed:
            problems.append(
                Problem(
                    first_entry,
                    f"{table} rows {_short(_ranges(changed))} were changed after the entry that wrote "
                    "them (outside the application)",
                )
            )
        if loose:
            problems.append(
                Problem(
                    None,
                    f"{table} rows {_short(_ranges(loose))} are sealed by no audit entry "
                    "(written outside the application)",
                )
            )
        if gone:
            problems.append(
                Problem(None, f"{table} rows {_short(_ranges(gone))} were deleted outside the application")
            )
    return problems


def _sealed_tables_problems(conn: Connection | Session, seals: dict[str, tuple[int, str]]) -> list[Problem]:
    """Each whole-sealed table against the digest its newest entry recorded (`_table_seals`)."""
    problems = []
    for table in TABLE_SEALED:
        held = seals.get(table)
        if held is None:
            if not _empty(conn, table):
                problems.append(
                    Problem(None, f"{table} was written by no audit entry (loaded outside the application)")
                )
        elif table_digest(conn, table) != held[1]:
            problems.append(
                Problem(
                    held[0],
                    f"{table} was changed after the entry that last loaded it (outside the application)",
                )
            )
    return problems
