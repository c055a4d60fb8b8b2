"""What the chain is made of: the money rows it covers and the columns it hashes, the canonical
bytes and digests of rows and entries, and its head.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, insert, inspect, select, text
from sqlalchemy.orm import Session

from ...engine.money import ZERO, cents
from .. import audit_key
from ..models import Base
from ..types import Money

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
    "settlement_tender": ("id", "settlement_id", "tender", "amount"),
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
# Rows changed in place that decide who pays: each write seals the row's digest (table audit_seal)
# in the entry that made it, and the newest seal of every row must match the row.
SEALED: dict[str, tuple[str, ...]] = {
    "family_binding": (
        "id",
        "provider_id",
        "beneficiary_id",
        "relation",
        "bound_at",
        "commitment_signed_at",
        "commitment_sha256",
        "ended_at",
        "ended_reason",
        "clerk",
        "policy",
    ),
    "staff": ("id", "staff_no", "name", "role", "password_hash", "active"),
    "outbox": (
        "id",
        "msgid",
        "infno",
        "settlement_id",
        "person_key",
        "payload",
        "created_at",
        "visit_key",
        "institution_id",
        "operator",
    ),
}
# Tables loaded whole (catalogues and the hospital's price list with its mapping to national codes):
# an entry that changes one records the digest of the whole table as it left it.
TABLE_SEALED: dict[str, tuple[str, ...]] = {
    "catalogue_item": (
        "id",
        "code",
        "name",
        "kind",
        "cls",
        "prepay_ratio",
        "price",
        "unit",
        "account_payable",
        "national_code",
        "spec",
        "barcode",
    ),
    "national_item": ("id", "code", "name", "catalogue", "version"),
    "national_term": ("id", "code", "kind", "cls", "ratio", "amount", "begndate", "enddate"),
    "disease": ("id", "code", "name", "catalogue", "version"),
}
GONE = "-"  # the seal of a row its entry deleted
INLINE_SEALS = 64  # an entry sealing no more rows than this keeps them in its detail; more: audit_seal
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
    key: bytes | None = None,
) -> str:
    """SHA-256 of the entry's canonical content, or its HMAC under `key` (entries from the
    database's `keyed_from` on): without the key nobody can make a changed entry check out."""
    content = canonical(
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
    return audit_key.mac(key, content) if key is not None else hashlib.sha256(content).hexdigest()


def _row_digest(table: str, values: Iterable[Any]) -> str:
    return hashlib.sha256(canonical([table, list(values)])).hexdigest()


def _seal_rows(conn: Connection | Session, rows: dict[str, set[int]]) -> list[list[Any]]:
    """[table, id, digest] of the noted rows as they are now, sorted (GONE for a deleted one)."""
    out: list[list[Any]] = []
    for table in sorted(rows):
        t = Base.metadata.tables[table]
        cols = [t.c[name] for name in SEALED[table]]
        wanted = sorted(rows[table])
        found = dict.fromkeys(wanted, GONE)
        for k in range(0, len(wanted), _IN_CHUNK):
            for r in conn.execute(select(*cols).where(t.c.id.in_(wanted[k : k + _IN_CHUNK]))):
                found[r[0]] = _row_digest(table, r)
        out += [[table, i, found[i]] for i in wanted]
    return out


def table_digest(conn: Connection | Session, table: str) -> str:
    """SHA-256 over a whole-table-sealed table's rows, in id order."""
    t = Base.metadata.tables[table]
    cols = [t.c[name] for name in TABLE_SEALED[table]]
    h = hashlib.sha256()
    for r in conn.execute(select(*cols).order_by(t.c.id)):
        h.update(canonical(list(r)))
    return h.hexdigest()


# Built once: SQLAlchemy then keys and compiles each a single time, not on every append.
_ENTRY = Base.metadata.tables["audit_entry"]
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_HEAD = select(_ENTRY.c.id, _ENTRY.c.hash).order_by(_ENTRY.c.id.desc()).limit(1)
_INSERT = _ENTRY.insert()
_SEAL = Base.metadata.tables["audit_seal"]
_INSERT_SEAL = insert(_SEAL)
_IDENTITY = Base.metadata.tables["database_identity"]


def _present(conn: Connection | Session, tables: Iterable[str]) -> list[str]:
    """The tables that exist in this database: a migration's genesis runs before later ones are made."""
    bind = conn.connection() if isinstance(conn, Session) else conn
    inspector = inspect(bind)
    return [t for t in tables if inspector.has_table(t)]


def identity(conn: Connection | Session) -> Any:
    """The database's identity row (models.DatabaseIdentity's columns), or None before 0013."""
    return conn.execute(select(_IDENTITY).order_by(_IDENTITY.c.id).limit(1)).first()


def _short(ranges: list[list[int]]) -> str:
    text_ = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:5])
    return text_ + ("…" if len(ranges) > 5 else "")


def head(conn: Connection | Session) -> tuple[int, str] | None:
    """The newest entry's (id, hash), for copies kept elsewhere."""
    table = Base.metadata.tables["audit_entry"]
    last = conn.execute(select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
    return (last.id, last.hash) if last else None
