"""Posting to account ledgers: the only code that changes an account's balance."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, text
from sqlalchemy.orm import Session

from ..engine.interest import Movement, year_end, year_interest
from ..engine.money import ZERO
from ..policies import load_interest_rules
from ..store.models import Account, LedgerEntry
from ..store.types import Money
from .errors import ServiceError

INTEREST = "interest"  # the ledger kind of yearly interest (WH-11)


def post(
    session: Session,
    account: Account,
    amount: Decimal,
    kind: str,
    note: str,
    *,
    at: dt.datetime,
    settlement_id: int | None = None,
    period: str | None = None,
) -> LedgerEntry:
    """Add one entry and move the cached balance with it; an overdraw is refused, never written."""
    after = account.balance + amount
    if after < ZERO:
        raise ServiceError(f"账户余额不足：余额 {account.balance}，需扣 {-amount}")
    account.balance = after
    account.version += 1
    entry = LedgerEntry(
        account_id=account.id,
        amount=amount,
        balance_after=after,
        kind=kind,
        note=note,
        settlement_id=settlement_id,
        period=period,
        created_at=at,
    )
    session.add(entry)
    return entry


def ledger_sum(session: Session, account_id: int) -> Decimal:
    return session.execute(
        select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(LedgerEntry.account_id == account_id)
    ).scalar_one()


def mismatched_accounts(session: Session) -> list[tuple[int, Decimal, Decimal]]:
    """Accounts whose cached balance differs from their ledger sum: (id, cached, ledger). Empty is good."""
    sums = (
        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount).label("total"))
        .group_by(LedgerEntry.account_id)
        .subquery()
    )
    rows = session.execute(
        select(Account.id, Account.balance, func.coalesce(sums.c.total, ZERO)).outerjoin(
            sums, sums.c.account_id == Account.id
        )
    ).all()
    return [(i, cached, total) for i, cached, total in rows if cached != total]


MULAID_KINDS = ("mulaid", "refund_mulaid")  # family mutual aid, the self case included (decision 8)


def refund_kind(kind: str) -> str:
    """The kind of the entry that gives back an entry of `kind`: a refund of family mutual aid
    stays family mutual aid, so every report classes the pair alike (WH-28, decision 8)."""
    return "refund_mulaid" if kind in MULAID_KINDS else "refund"


@dataclass(frozen=True, slots=True)
class BatchPosting:
    """One entry of a batch, for an account whose balance the caller read under its lock; `kind`
    overrides the batch's kind (a settlement posts `settle` and `mulaid` entries together)."""

    account_id: int
    balance_before: Decimal
    amount: Decimal
    note: str
    kind: str | None = None


def post_batch(
    session: Session,
    postings: list[BatchPosting],
    kind: str,
    period: str | None,
    *,
    at: dt.datetime,
    settlement_id: int | None = None,
) -> list[dict[str, Any]]:
    """Post many entries (crediting, interest, a settlement's draws) in two statements.

    The caller has locked the accounts (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL) and
    read `balance_before` in the same transaction. The unique (account, kind, period) index makes a
    second posting of the same period fail as a whole instead of crediting twice. Returns the rows
    written with their ids (for the audit entry that covers them)."""
    if not postings:
        return []
    for p in postings:
        if p.balance_before + p.amount < ZERO:
            raise ServiceError(f"账户余额不足：余额 {p.balance_before}，需扣 {-p.amount}")
    rows = [
        dict(
            account_id=p.account_id,
            amount=p.amount,
            balance_after=p.balance_before + p.amount,
            kind=p.kind or kind,
            note=p.note,
            settlement_id=settlement_id,
            period=period,
            created_at=at,
        )
        for p in postings
    ]
    if len(rows) >= BULK_FROM:
        _post_bulk(session, rows)
        return rows
    _insert_returning_ids(session, rows)
    session.execute(
        _MOVE_BALANCE, [dict(b_id=p.account_id, b_balance=p.balance_before + p.amount) for p in postings]
    )
    return rows


BULK_FROM = 200  # postings at which post_batch writes through the driver (batches), not SQLAlchemy


def _post_bulk(session: Session, rows: list[dict[str, Any]]) -> None:
    """A batch chunk's entries and balances through the database driver: SQLAlchemy's per-row
    parameter handling costs more than the database's work at a million rows. The ids are taken
    first (SQLite: after the largest, under the write lock the chunk holds; PostgreSQL: from the
    table's sequence), so no RETURNING is needed; then SQLite gets one executemany per table and
    PostgreSQL a COPY and one UPDATE from arrays. Values are converted by the columns' own types."""
    dialect = session.get_bind().dialect
    raw: Any = session.connection().connection.driver_connection
    n = len(rows)
    ids: Sequence[int]
    if dialect.name == "sqlite":
        first = session.execute(_MAX_ENTRY_ID).scalar_one() + 1
        ids = range(first, first + n)
    else:
        ids = session.execute(_NEXT_ENTRY_IDS, {"n": n}).scalars().all()
    money = Money().process_bind_param
    to_stamp = _ENTRIES.c.created_at.type.bind_processor(dialect)
    stamp = to_stamp(rows[0]["created_at"]) if to_stamp else rows[0]["created_at"]  # post_batch's one `at`
    for row, entry_id in zip(rows, ids, strict=True):
        row["id"] = entry_id
    values = [
        (
            r["id"],
            r["account_id"],
            money(r["amount"], dialect),
            money(r["balance_after"], dialect),
            r["kind"],
            r["note"],
            r["settlement_id"],
            r["period"],
            stamp,
        )
        for r in rows
    ]
    columns = "id, account_id, amount, balance_after, kind, note, settlement_id, period, created_at"
    if dialect.name == "sqlite":
        raw.executemany(f"INSERT INTO ledger_entry ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        raw.executemany(
            "UPDATE account SET balance = ?, version = version + 1 WHERE id = ?",
            [(v[3], v[1]) for v in values],
        )
    else:
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY ledger_entry ({columns}) FROM STDIN") as copy:
                for v in values:
                    copy.write_row(v)
            cursor.execute(
                "UPDATE account SET balance = v.balance, version = account.version + 1 "
                "FROM unnest(%s::integer[], %s::numeric[]) AS v(id, balance) WHERE account.id = v.id",
                ([v[1] for v in values], [v[3] for v in values]),
            )


def _insert_returning_ids(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert ledger `rows` in one statement and give each its id. The ids come back with the
    account, kind and amount and are matched on them: asking the database to keep the parameters'
    order would make SQLAlchemy send SQLite one INSERT per row."""
    waiting: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        waiting[(row["account_id"], row["kind"], row["amount"])].append(row)
    for entry_id, *key in session.execute(_INSERT_ENTRIES, rows):
        waiting[tuple(key)].pop(0)["id"] = entry_id


# Built once: SQLAlchemy then keys and compiles each a single time.
_ENTRIES, _ACCOUNTS = cast(Table, LedgerEntry.__table__), cast(Table, Account.__table__)
_INSERT_ENTRIES = _ENTRIES.insert().returning(
    _ENTRIES.c.id, _ENTRIES.c.account_id, _ENTRIES.c.kind, _ENTRIES.c.amount
)
_MAX_ENTRY_ID = select(func.coalesce(func.max(_ENTRIES.c.id), 0))
_NEXT_ENTRY_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('ledger_entry', 'id')) FROM generate_series(1, :n)"
)
_MOVE_BALANCE = (
    _ACCOUNTS.update()
    .where(_ACCOUNTS.c.id == bindparam("b_id"))
    .values(balance=bindparam("b_balance"), version=_ACCOUNTS.c.version + 1)
)


def interest_to_close(session: Session, account: Account, at: dt.datetime) -> list[LedgerEntry]:
    """The interest an account closing at `at` is still owed (WH-10, WH-11), posted now: the
    previous year's, if its batch has not posted it, and this year's for the days before closing.
    Each is an `interest` entry of its year, so the year's batch finds it done."""
    rules = load_interest_rules()
    posted = set(
        session.scalars(
            select(LedgerEntry.period).where(
                LedgerEntry.account_id == account.id, LedgerEntry.kind == INTEREST
            )
        )
    )
    entries = []
    for year, until, value_date in ((at.year - 1, None, year_end(at.year - 1)), (at.year, at.date(), at)):
        if str(year) in posted or dt.date(year, 12, 31) < account.opened_on:
            continue
        if until == dt.date(year, 1, 1):
            continue  # closed on New Year's Day: no day of this year has passed
        forward, moves = year_ledger(session, [account.id], year)
        movements = [m for m in moves.get(account.id, ()) if until is None or m.day < until]
        result = year_interest(rules, year, forward.get(account.id) or ZERO, movements, until=until)
        if result.interest > 0:
            what = "全年" if until is None else f"1月1日至{until:%m月%d日}（销户）"
            entries.append(
                post(
                    session,
                    account,
                    result.interest,
                    INTEREST,
                    f"{year} 年利息，{what}",
                    at=value_date,
                    period=str(year),
                )
            )
    return entries


def year_ledger(
    session: Session, ids: list[int], year: int
) -> tuple[dict[int, Decimal], dict[int, list[Movement]]]:
    """Per account: the balance brought forward into `year` and the year's movements.

    Brought forward is everything before the year plus interest earned in earlier years whenever
    it was posted (its value date is that year's end); this year's movements leave interest out."""
    start, end = dt.datetime(year, 1, 1), dt.datetime(year + 1, 1, 1)
    earlier_interest = and_(LedgerEntry.kind == INTEREST, LedgerEntry.period < str(year))
    forward = dict(
        session.execute(
            select(LedgerEntry.account_id, func.sum(LedgerEntry.amount))
            .where(
                LedgerEntry.account_id.in_(ids),
                or_(and_(LedgerEntry.created_at < start, LedgerEntry.kind != INTEREST), earlier_interest),
            )
            .group_by(LedgerEntry.account_id)
        )
        .tuples()
        .all()
    )
    moves: dict[int, list[Movement]] = defaultdict(list)
    for account_id, created_at, amount, kind in session.execute(
        select(LedgerEntry.account_id, LedgerEntry.created_at, LedgerEntry.amount, LedgerEntry.kind)
        .where(
            LedgerEntry.account_id.in_(ids),
            LedgerEntry.created_at >= start,
            LedgerEntry.created_at < end,
            LedgerEntry.kind != INTEREST,
        )
        .order_by(LedgerEntry.id)
    ):
        moves[account_id].append(Movement(created_at.date(), amount, kind))
    return forward, moves
