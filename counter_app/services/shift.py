"""Shifts and days: a shift is opened with the cash float before any money is taken, and closed
by counting the drawer against what the settlements, refunds and deposits say it should hold.

Totals are by payer (fund, own accounts, family accounts, cash by tender) and by medical type,
with refunds and reversals in every total, and they are checked against the account ledger.
Closing warns about messages not yet accepted upstream. A business day is closed once; anything
settled after its close belongs to the next day.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, or_, select
from sqlalchemy.orm import Session

from ..engine.money import ZERO, cents, fmt
from ..store import Database
from ..store.audit import Appended
from ..store.audit import head_columns as chain_head_columns
from ..store.models import DayClose, DepositEntry, Institution, LedgerEntry, Settlement, Shift, Staff
from . import actor_check
from .actor import Actor
from .audit import record
from .errors import NotFound, ServiceError
from .institutions import by_code as _institution
from .sync_status import OutboxEntry, unsent
from .tenders import MIXED, parts_of


class ShiftHasPending(ServiceError):
    """Messages are still waiting for the centre; the cashier must see them before closing."""

    def __init__(self, entries: list[OutboxEntry]) -> None:
        super().__init__(f"还有 {len(entries)} 笔结算或退费未上传到医保中心，确认后再交班")
        self.entries = entries


@dataclass
class Totals:
    """Everything a shift or a day took in, refunds and reversals included (they are negative)."""

    settlements: int = 0
    refunds: int = 0
    medfee: Decimal = ZERO
    fund: Decimal = ZERO
    own_accounts: Decimal = ZERO
    family_accounts: Decimal = ZERO
    cash_by_tender: dict[str, Decimal] = field(default_factory=dict)
    deposits_by_tender: dict[str, Decimal] = field(default_factory=dict)
    by_med_type: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    ledger_accounts: Decimal = ZERO  # the same account money, summed from the ledger instead
    anchor: str = ""  # day close: the audit chain's head after it (ID:HASH), printed to be kept outside

    @property
    def ties_to_ledger(self) -> bool:
        return self.ledger_accounts == -(self.own_accounts + self.family_accounts)

    def as_json(self) -> dict[str, Any]:
        def conv(value: Any) -> Any:
            if isinstance(value, Decimal):
                return fmt(value)
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            return value

        return {k: conv(v) for k, v in asdict(self).items()} | {"ties_to_ledger": self.ties_to_ledger}


@dataclass(frozen=True)
class ShiftReport:
    shift_id: int
    counter: str
    cashier: str
    opened_at: dt.datetime
    closed_at: dt.datetime
    opening_float: Decimal
    expected_cash: Decimal
    counted_cash: Decimal
    totals: Totals
    pending_upstream: int
    anchor: str = ""  # the audit chain's head after the close (ID:HASH): `audit verify --anchor`

    @property
    def difference(self) -> Decimal:
        return self.counted_cash - self.expected_cash


def current_shift(session: Session, ctx: Actor) -> Shift | None:
    return session.scalar(
        select(Shift)
        .join(Institution)
        .where(
            Institution.code == ctx.institution_code,
            Shift.counter == ctx.counter,
            Shift.cashier == ctx.cashier,
            Shift.closed_at.is_(None),
        )
    )


def require_shift(session: Session, ctx: Actor) -> Shift:
    """No money without an open shift."""
    shift = current_shift(session, ctx)
    if shift is None:
        raise ServiceError("请先开班（录入备用金）后再收费")
    return shift


def open_shift(db: Database, ctx: Actor, opening_float: Decimal, *, now: dt.datetime | None = None) -> int:
    ctx.require("shift")
    if not isinstance(opening_float, Decimal) or opening_float < 0 or opening_float != cents(opening_float):
        raise ServiceError(f"备用金应为不小于 0 的金额（两位小数）：{opening_float}")
    with db.transaction() as session:
        inst = _institution(session, ctx.institution_code)
        busy = session.scalar(
            select(Shift).where(
                Shift.institution_id == inst.id,
                Shift.closed_at.is_(None),
                (Shift.counter == ctx.counter) | (Shift.cashier == ctx.cashier),
            )
        )
        if busy is not None:
            who = "本窗口" if busy.counter == ctx.counter else f"窗口 {busy.counter}"
            raise ServiceError(
                f"{who}已有未交班的班次（{busy.cashier}，{busy.opened_at:%m-%d %H:%M} 开班），请先交班"
            )
        at = now or dt.datetime.now()
        shift = Shift(
            institution_id=inst.id,
            counter=ctx.counter,
            cashier=ctx.cashier,
            opened_at=at,
            opening_float=opening_float,
        )
        session.add(shift)
        session.flush()
        record(
            session,
            ctx,
            "shift_open",
            f"shift {shift.id}",
            at=at,
            after={"opening_float": fmt(opening_float)},
        )
        return shift.id


def day_after_close(at: dt.datetime, last_closed: dt.date | None) -> dt.date:
    """The business day of `at`: the calendar day, unless that day is already closed (`last_closed`,
    the institution's last closed day, read with the counter's state): then the day after it."""
    return max(at.date(), last_closed + dt.timedelta(days=1)) if last_closed else at.date()


@dataclass(frozen=True, slots=True)
class CounterState:
    """What every settle or refund needs of the counter, read with one statement (`counter_state`)."""

    shift_id: int
    institution: Institution
    last_closed: dt.date | None  # the institution's last closed business day
    audit_head: tuple[int | None, str | None] | None  # the chain's head, on SQLite (store.audit.append)

    @classmethod
    def from_row(
        cls, row: Row[Any], sqlite: bool, session: Session | None = None, ctx: Actor | None = None
    ) -> CounterState:
        """From a row holding `state_columns` (by their names, whatever else the row holds); given
        the session and actor, refuses a stale actor (StaleActor) with the reason."""
        if ctx is not None and session is not None:
            fresh = row.state_staff
            if fresh is None or actor_check.credential(fresh) != ctx.credential:
                actor_check.check(session, ctx)  # names why; a row that still holds passes
        head = (row.audit_head_id, row.audit_head_hash) if sqlite else None
        return cls(row.state_shift_id, row.Institution, row.state_last_closed, head)


def state_columns(sqlite: bool) -> list[Any]:
    """The counter's state as columns of a statement that joins `Institution` (by code): the open
    shift of :counter and :cashier, the last closed day, and on SQLite the audit chain's head."""
    shift = (
        select(Shift.id)
        .where(
            Shift.institution_id == Institution.id,
            Shift.counter == bindparam("counter"),
            Shift.cashier == bindparam("cashier"),
            Shift.closed_at.is_(None),
        )
        .scalar_subquery()
        .label("state_shift_id")
    )
    last_close = (
        select(func.max(DayClose.day))
        .where(DayClose.institution_id == Institution.id)
        .scalar_subquery()
        .label("state_last_closed")
    )
    staff = (  # the cashier's staff row as at sign-in: active, unlocked, same role (issue 26)
        select(Staff.password_hash)
        .where(
            Staff.staff_no == bindparam("cashier"),
            Staff.active.is_(True),
            Staff.role == bindparam("role"),
            or_(Staff.locked_until.is_(None), Staff.locked_until <= bindparam("now")),
        )
        .scalar_subquery()
        .label("state_staff")
    )
    return [Institution, shift, last_close, staff, *(chain_head_columns() if sqlite else ())]


def state_params(ctx: Actor, at: dt.datetime | None = None) -> dict[str, Any]:
    """The bound values `state_columns` needs."""
    return {
        "code": ctx.institution_code,
        "counter": ctx.counter,
        "cashier": ctx.cashier,
        "role": ctx.role,
        "now": at or dt.datetime.now(),
    }


@functools.cache
def _counter_state_query(sqlite: bool) -> Select[Any]:
    """`counter_state`'s statement, built once (SQLAlchemy keys and compiles it a single time)."""
    return select(*state_columns(sqlite)).where(Institution.code == bindparam("code"))


def counter_state(session: Session, ctx: Actor) -> CounterState:
    """The cashier's open shift, the institution and its last closed day in one statement; on SQLite
    also the audit chain's head, safe to use because BEGIN IMMEDIATE holds the write lock already.
    No open shift, no money (`require_shift`'s message)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    row = session.execute(_counter_state_query(sqlite), state_params(ctx)).first()
    if row is None:
        raise NotFound(f"未知的定点机构编码：{ctx.institution_code}")
    state = CounterState.from_row(row, sqlite, session, ctx)  # a stale actor first: it may not know
    if row.state_shift_id is None:
        raise ServiceError("请先开班（录入备用金）后再收费")
    return state


def _totals(session: Session, where: Any) -> Totals:
    t = Totals()
    rows = session.scalars(select(Settlement).where(where)).all()
    mixed = parts_of(session, [row.id for row in rows if row.tender == MIXED])
    for row in rows:
        if row.kind == "refund":
            t.refunds += 1
        else:
            t.settlements += 1
        own = row.acct_pay - row.acct_mulaid_pay
        t.medfee += row.medfee_sumamt
        t.fund += row.fund_pay_sumamt
        t.own_accounts += own
        t.family_accounts += row.acct_mulaid_pay
        for means, amount in mixed.get(row.id, [(row.tender, row.psn_cash_pay)]):
            t.cash_by_tender[means] = t.cash_by_tender.get(means, ZERO) + amount
        per = t.by_med_type.setdefault(
            row.med_type, {"medfee": ZERO, "fund": ZERO, "accounts": ZERO, "cash": ZERO}
        )
        per["medfee"] += row.medfee_sumamt
        per["fund"] += row.fund_pay_sumamt
        per["accounts"] += row.acct_pay
        per["cash"] += row.psn_cash_pay
    ids = [row.id for row in rows]
    if ids:
        t.ledger_accounts = session.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
                LedgerEntry.settlement_id.in_(ids)
            )
        ).scalar_one()
    return t


def shift_totals(session: Session, shift_id: int) -> Totals:
    totals = _totals(session, Settlement.shift_id == shift_id)
    # Deposits taken (+) and paid back (-) move money through the drawer; a deposit applied at
    # discharge (-, in the settlement's tender) is the part of that settlement's cash not collected.
    for entry in session.scalars(select(DepositEntry).where(DepositEntry.shift_id == shift_id)):
        totals.deposits_by_tender[entry.tender] = (
            totals.deposits_by_tender.get(entry.tender, ZERO) + entry.amount
        )
    return totals


def expected_cash(shift: Shift, totals: Totals) -> Decimal:
    return (
        shift.opening_float
        + totals.cash_by_tender.get("cash", ZERO)
        + totals.deposits_by_tender.get("cash", ZERO)
    )


def close_shift(
    db: Database,
    ctx: Actor,
    counted_cash: Decimal,
    *,
    acknowledge_pending: bool = False,
    now: dt.datetime | None = None,
) -> ShiftReport:
    """Count the drawer and close; ShiftHasPending first if anything waits for the centre."""
    ctx.require("shift")
    if not isinstance(counted_cash, Decimal) or counted_cash < 0 or counted_cash != cents(counted_cash):
        raise ServiceError(f"清点现金应为不小于 0 的金额（两位小数）：{counted_cash}")
    waiting = unsent(db)
    if waiting and not acknowledge_pending:
        raise ShiftHasPending(waiting)
    at = now or dt.datetime.now()
    with db.transaction() as session:
        shift = require_shift(session, ctx)
        return _close(session, ctx, shift, counted_cash, waiting, at, "shift_close")


def _close(
    session: Session,
    ctx: Actor,
    shift: Shift,
    counted_cash: Decimal,
    waiting: list[OutboxEntry],
    at: dt.datetime,
    action: str,
    handed_over_by: str | None = None,
) -> ShiftReport:
    """Close `shift` with the drawer's count, audited as `action`, and its report."""
    totals = shift_totals(session, shift.id)
    expected = expected_cash(shift, totals)
    shift.closed_at, shift.counted_cash, shift.expected_cash = at, counted_cash, expected
    shift.report_json = json.dumps(totals.as_json(), ensure_ascii=False)
    closed = record(
        session,
        ctx,
        action,
        f"shift {shift.id}",
        at=at,
        before={"expected_cash": fmt(expected), "cashier": shift.cashier},
        after={
            "counted_cash": fmt(counted_cash),
            "difference": fmt(counted_cash - expected),
            "unsent": len(waiting),
            "parked": sum(1 for w in waiting if w.status == "parked"),
            **({"handed_over_by": handed_over_by} if handed_over_by else {}),
        },
    )
    return ShiftReport(
        shift.id,
        shift.counter,
        shift.cashier,
        shift.opened_at,
        at,
        shift.opening_float,
        expected,
        counted_cash,
        totals,
        len(waiting),
        anchor_text(closed),
    )


@dataclass(frozen=True)
class HeldShift:
    """A shift left open on this counter by another cashier: who holds it, since when."""

    shift_id: int
    counter: str
    cashier: str
    cashier_name: str
    opened_at: dt.datetime

    def describe(self) -> str:
        return (
            f"窗口 {self.counter} 的班次由 {self.cashier_name}（{self.cashier}）于 "
            f"{self.opened_at:%m-%d %H:%M} 开班，尚未交班"
        )


def held_by_another(db: Database, ctx: Actor) -> HeldShift | None:
    """The open shift at the actor's counter that someone else holds, if any (the handover's case)."""
    with db.sessions() as session:
        row = session.execute(
            select(Shift.id, Shift.counter, Shift.cashier, Staff.name, Shift.opened_at)
            .join(Institution, Institution.id == Shift.institution_id)
            .outerjoin(Staff, Staff.staff_no == Shift.cashier)
            .where(
                Institution.code == ctx.institution_code,
                Shift.counter == ctx.counter,
                Shift.cashier != ctx.cashier,
                Shift.closed_at.is_(None),
            )
        ).first()
    if row is None:
        return None
    return HeldShift(row.id, row.counter, row.cashier, row.name or row.cashier, row.opened_at)


def hand_over(
    db: Database,
    ctx: Actor,
    supervisor_no: str,
    password: str,
    counted_cash: Decimal,
    *,
    now: dt.datetime | None = None,
) -> ShiftReport:
    """A supervisor, typing their password on the next cashier's screen, closes the shift another
    cashier left open at this counter with the drawer's count (issue 27): audited as a handover,
    with its report, so the next cashier can open their own."""
    from .staff import supervisor_check

    ctx.require("shift")
    if not isinstance(counted_cash, Decimal) or counted_cash < 0 or counted_cash != cents(counted_cash):
        raise ServiceError(f"清点现金应为不小于 0 的金额（两位小数）：{counted_cash}")
    held = held_by_another(db, ctx)
    if held is None:
        raise ServiceError(f"窗口 {ctx.counter} 没有他人未交班的班次")
    at = now or dt.datetime.now()
    waiting = unsent(db)
    refused: ServiceError | None = None
    with db.transaction() as session:
        try:
            supervisor = supervisor_check(session, supervisor_no, password, ctx.counter, at, "hand_over")
        except ServiceError as exc:
            refused = exc  # the failed password is counted and audited: committed, then refused
        else:
            shift = session.get(Shift, held.shift_id, with_for_update=True)
            if shift is None or shift.closed_at is not None:
                raise ServiceError(f"班次 {held.shift_id} 已交班")
            return _close(session, ctx, shift, counted_cash, waiting, at, "shift_handover", supervisor)
    raise refused


def close_day(db: Database, ctx: Actor, day: dt.date, *, now: dt.datetime | None = None) -> Totals:
    """Close a business day for the actor's institution: once, and only when every shift is closed."""
    ctx.require("day_close")
    at = now or dt.datetime.now()
    waiting = unsent(db)
    with db.transaction() as session:
        inst = _institution(session, ctx.institution_code)
        if session.scalar(select(DayClose.id).where(DayClose.institution_id == inst.id, DayClose.day == day)):
            raise ServiceError(f"{day} 已日结，不能重复日结")
        open_shifts = session.scalars(
            select(Shift).where(Shift.institution_id == inst.id, Shift.closed_at.is_(None))
        ).all()
        if open_shifts:
            raise ServiceError(
                "还有未交班的班次：" + "，".join(f"{s.counter}（{s.cashier}）" for s in open_shifts)
            )
        totals = _totals(session, (Settlement.institution_id == inst.id) & (Settlement.business_day == day))
        session.add(
            DayClose(
                institution_id=inst.id,
                day=day,
                closed_at=at,
                closed_by=ctx.staff_no,
                report_json=json.dumps(totals.as_json(), ensure_ascii=False),
            )
        )
        closed = record(
            session,
            ctx,
            "day_close",
            day.isoformat(),
            at=at,
            after={
                "settlements": totals.settlements,
                "refunds": totals.refunds,
                "medfee": fmt(totals.medfee),
                "fund": fmt(totals.fund),
                "unsent": len(waiting),
                "parked": sum(1 for w in waiting if w.status == "parked"),
            },
        )
        return replace(totals, anchor=anchor_text(closed))


def anchor_text(entry: Appended) -> str:
    """The head as printed on the shift report and the day close (`store.audit.parse_anchor`)."""
    return f"{entry.id}:{entry.hash[:32]}"


@dataclass(frozen=True)
class ShiftState:
    """What the close-shift screen shows before the drawer is counted."""

    shift_id: int
    opened_at: dt.datetime
    opening_float: Decimal
    totals: Totals
    expected_cash: Decimal
    unsent: list[OutboxEntry]


def shift_state(db: Database, ctx: Actor) -> ShiftState | None:
    """The cashier's open shift with its running totals, or None when no shift is open."""
    with db.sessions() as session:
        shift = current_shift(session, ctx)
        if shift is None:
            return None
        totals = shift_totals(session, shift.id)
        state = ShiftState(
            shift.id, shift.opened_at, shift.opening_float, totals, expected_cash(shift, totals), []
        )
    return ShiftState(
        state.shift_id, state.opened_at, state.opening_float, state.totals, state.expected_cash, unsent(db)
    )
