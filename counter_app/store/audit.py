"""The audit chain: append-only entries, each carrying the SHA-256 of the one before it and of its
own canonical content, and the digest of the money rows it wrote.

Who edits a ledger amount, deletes or forges an audit entry, or changes a settlement's approver by
raw SQL leaves a chain that `verify` names: an entry whose hash no longer matches its content, a
gap or a wrong `prev_hash` where one was deleted, covered rows whose digest changed, or money rows
that no entry covers. The rows covered are those that are written once and never updated
(settlements, ledger entries, year totals, deposit entries), by the fixed column lists below.

Appends are serialised: SQLite writers hold the write lock (BEGIN IMMEDIATE), PostgreSQL takes a
transaction-scoped advisory lock, so two counters never link to the same previous entry. What the
chain cannot show by itself is the newest entries being cut off the end together with every row
they cover; keep copies of the head (`head()`) off the machine, e.g. in the day-close report.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from ..engine.money import ZERO, cents
from .models import Base
from .types import Money

GENESIS_PREV = "0" * 64
ADVISORY_KEY = 7_202_207  # pg_advisory_xact_lock key of the chain

# The money rows the chain protects, and the columns of each that it hashes.
COVERED: dict[str, tuple[str, ...]] = {
    "settlement": (
        "id",
        "setl_no",
        "kind",
        "reverses_id",
        "institution_id",
        "person_id",
        "med_type",
        "visit_date",
        "settled_at",
        "cashier",
        "approver",
        "counter",
        "policy",
        "policy_version",
        "medfee_sumamt",
        "fund_pay_sumamt",
        "hifp_pay",
        "acct_pay",
        "acct_mulaid_pay",
        "psn_cash_pay",
        "claim_json",
        "result_json",
        "shift_id",
        "business_day",
        "tender",
    ),
    "ledger_entry": (
        "id",
        "account_id",
        "amount",
        "balance_after",
        "kind",
        "note",
        "settlement_id",
        "period",
        "created_at",
    ),
    "year_total": (
        "id",
        "person_id",
        "year",
        "deductible_paid",
        "outpatient_pool_paid",
        "settlement_id",
        "note",
    ),
    "deposit_entry": (
        "id",
        "admission_id",
        "amount",
        "kind",
        "receipt_no",
        "at",
        "cashier",
        "shift_id",
        "tender",
    ),
}
_IN_CHUNK = 5000  # ids per IN (...) list, under SQLite's limit on bound parameters


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    raise TypeError(f"cannot put {type(value).__name__} in an audit entry")


def canonical(obj: Any) -> bytes:
    """The one byte form that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain).encode()


def _ranges(ids: Iterable[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for i in sorted(set(ids)):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return out


def _expand(ranges: list[list[int]]) -> list[int]:
    return [i for first, last in ranges for i in range(first, last + 1)]


def _rows(conn: Connection | Session, table: str, ids: list[int]) -> list[list[Any]]:
    t = Base.metadata.tables[table]
    cols = [t.c[name] for name in COVERED[table]]
    rows: list[list[Any]] = []
    for k in range(0, len(ids), _IN_CHUNK):
        chunk = ids[k : k + _IN_CHUNK]
        rows += [list(r) for r in conn.execute(select(*cols).where(t.c.id.in_(chunk)).order_by(t.c.id))]
    return rows


@functools.cache
def _as_stored(table: str) -> list[Any]:
    """Per covered column, what a value written becomes when read back (money: two places, no -0)."""
    t = Base.metadata.tables[table]
    return [
        (lambda v: None if v is None else cents(v) + ZERO)
        if isinstance(t.c[name].type, Money)
        else (lambda v: v)
        for name in COVERED[table]
    ]


def _written_rows(table: str, ids: list[int], written: list[dict[str, Any]]) -> list[list[Any]]:
    """The covered rows as the caller wrote them in this transaction, in the form `_rows` reads them
    back; `verify` re-reads them from the table, so a difference between the two shows at once."""
    by_id = {row["id"]: row for row in written}
    if sorted(by_id) != ids:
        raise ValueError(f"audit: the rows written to {table} are not the rows the entry covers")
    readers = _as_stored(table)
    return [[read(by_id[i][name]) for read, name in zip(readers, COVERED[table], strict=False)] for i in ids]


def rows_digest(
    conn: Connection | Session,
    covers: dict[str, list[list[int]]],
    written: dict[str, list[dict[str, Any]]] | None = None,
) -> str:
    """SHA-256 over the covered rows as they are now; a missing row changes it as an edit does.
    Rows in `written` (table -> column values, as just inserted) are hashed without reading them."""
    h = hashlib.sha256()
    for table in sorted(covers):
        ids = _expand(covers[table])
        found = (
            _written_rows(table, ids, written[table])
            if written and table in written
            else _rows(conn, table, ids)
        )
        h.update(canonical([table, len(ids), found]))
    return h.hexdigest()


def head_columns() -> tuple[Any, Any]:
    """The chain's head (id, hash) as two scalar subqueries, for a caller that already holds the
    write lock (SQLite's BEGIN IMMEDIATE) to read with its first statement and pass to `append`."""

    def newest(col: Any) -> Any:
        return select(col).order_by(_ENTRY.c.id.desc()).limit(1).scalar_subquery()

    return newest(_ENTRY.c.id).label("audit_head_id"), newest(_ENTRY.c.hash).label("audit_head_hash")


def entry_hash(
    entry_id: int,
    at: dt.datetime,
    staff_no: str,
    counter: str,
    action: str,
    obj: str,
    detail: str,
    prev_hash: str,
) -> str:
    return hashlib.sha256(
        canonical(
            {
                "id": entry_id,
                "at": at,
                "staff_no": staff_no,
                "counter": counter,
                "action": action,
                "object": obj,
                "detail": detail,
                "prev": prev_hash,
            }
        )
    ).hexdigest()


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
) -> Appended:
    """Link one entry to the chain, in the caller's transaction (after its rows are flushed).

    `written` gives covered rows' values as inserted, so they are hashed without being read again.
    `head` is the chain's head read earlier in this transaction (`head_columns`), accepted on SQLite
    only, whose BEGIN IMMEDIATE has held the write lock since then. Were it stale, the entry's id
    (head + 1, the primary key) would collide and the transaction fail: it cannot fork the chain."""
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
    detail = canonical(body).decode()
    staff_no, counter, action, obj = staff_no[:30], counter[:30], action[:30], obj[:100]
    digest = entry_hash(entry_id, at, staff_no, counter, action, obj, detail, prev)
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
    return Appended(entry_id, digest)


# Built once: SQLAlchemy then keys and compiles each a single time, not on every append.
_ENTRY = Base.metadata.tables["audit_entry"]
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(_ENTRY.c.id, _ENTRY.c.hash).order_by(_ENTRY.c.id.desc()).limit(1)
_INSERT = _ENTRY.insert()


def uncovered(conn: Connection | Session) -> dict[str, list[int]]:
    """Money rows no audit entry covers, by table (empty lists left out)."""
    covered = _covered_ids(conn)
    out = {}
    for table in COVERED:
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


def adopt(
    conn: Connection | Session, *, at: dt.datetime, staff_no: str, counter: str, action: str, obj: str
) -> Appended | None:
    """One entry covering every money row no entry covers yet: the migration's genesis, and data
    loaded in bulk (demo data). Never offered to a user: rows forged by SQL stay uncovered."""
    rows = uncovered(conn)
    if not rows:
        return None
    return append(
        conn,
        at=at,
        staff_no=staff_no,
        counter=counter,
        action=action,
        obj=obj,
        after={t: len(ids) for t, ids in rows.items()},
        covers=rows,
    )


def genesis(conn: Connection) -> None:
    """Called by migration 0005: the rows written before the chain existed."""
    adopt(
        conn,
        at=dt.datetime.now().replace(microsecond=0),
        staff_no="system",
        counter="migration",
        action="genesis",
        obj="migration 0005",
    )


@dataclass(frozen=True)
class Problem:
    entry_id: int | None  # the first audit entry concerned, or None for a row no entry covers
    what: str


def verify(conn: Connection | Session) -> list[Problem]:
    """Every break in the chain, first first; empty when the chain and the money rows agree."""
    table = Base.metadata.tables["audit_entry"]
    problems: list[Problem] = []
    prev_id, prev_hash = 0, GENESIS_PREV
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
        expected = entry_hash(
            row.id, row.at, row.staff_no, row.counter, row.action, row.object, row.detail, row.prev_hash
        )
        if row.hash != expected:
            problems.append(
                Problem(row.id, f"its content does not match its hash ({row.action} {row.object})")
            )
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
        prev_id, prev_hash = row.id, row.hash
    for t, ids in uncovered(conn).items():
        problems.append(
            Problem(
                None,
                f"{t} rows {_short(_ranges(ids))} are covered by no audit entry "
                "(written outside the application)",
            )
        )
    return problems


def _short(ranges: list[list[int]]) -> str:
    text_ = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:5])
    return text_ + ("…" if len(ranges) > 5 else "")


def head(conn: Connection | Session) -> tuple[int, str] | None:
    """The newest entry's (id, hash), for copies kept elsewhere."""
    table = Base.metadata.tables["audit_entry"]
    last = conn.execute(select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
    return (last[0], last[1]) if last else None
