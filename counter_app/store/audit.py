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
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, event, insert, inspect, select, text
from sqlalchemy.orm import Session

from ..engine.money import ZERO, cents
from . import audit_key
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
_PENDING = "audit_pending"  # Session.info key: rows and tables written, waiting for their entry
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


@dataclass(frozen=True)
class Problem:
    entry_id: int | None  # the first audit entry concerned, or None for a row no entry covers
    what: str


def identity(conn: Connection | Session) -> Any:
    """The database's identity row (models.DatabaseIdentity's columns), or None before 0013."""
    return conn.execute(select(_IDENTITY).order_by(_IDENTITY.c.id).limit(1)).first()


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


def _short(ranges: list[list[int]]) -> str:
    text_ = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:5])
    return text_ + ("…" if len(ranges) > 5 else "")


def head(conn: Connection | Session) -> tuple[int, str] | None:
    """The newest entry's (id, hash), for copies kept elsewhere."""
    table = Base.metadata.tables["audit_entry"]
    last = conn.execute(select(table.c.id, table.c.hash).order_by(table.c.id.desc()).limit(1)).first()
    return (last.id, last.hash) if last else None
