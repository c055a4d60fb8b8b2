"""Events in a person's enrolment that end family bindings in the same transaction (HF-2.2).

A provider who dies, leaves employee insurance, or whose account is transferred away or closed
(`binding.close_account`) pays nobody from that day: every binding they provide ends, with the
reason on the binding and in the audit log. A beneficiary who dies has their bindings ended too.
A suspension (停保) or arrears ends nothing: the provider is only not drawable while it lasts, and
settlement skips them under the pack's provider rule.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..engine.claim import STATUSES
from ..engine.policy import INSUTYPES as INSUTYPES_KNOWN
from ..store import Database
from ..store.models import FamilyBinding, Person
from .actor import Actor
from .audit import record
from .errors import NotFound, ServiceError

EMPLOYEE = "310"


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id, with_for_update=session.get_bind().dialect.name != "sqlite")
    if person is None:
        raise NotFound(f"未找到参保人（内部编号 {person_id}）")
    return person


def end_bindings(
    session: Session,
    person_id: int,
    at: dt.datetime,
    reason: str,
    *,
    as_provider: bool = True,
    as_beneficiary: bool = False,
) -> list[int]:
    """End the person's active bindings (never delete them); returns the ids ended."""
    sides = []
    if as_provider:
        sides.append(FamilyBinding.provider_id == person_id)
    if as_beneficiary:
        sides.append(FamilyBinding.beneficiary_id == person_id)
    ended = list(
        session.scalars(
            select(FamilyBinding)
            .where(or_(*sides), FamilyBinding.ended_at.is_(None))
            .order_by(FamilyBinding.id)
        )
    )
    for binding in ended:
        binding.ended_at, binding.ended_reason = at, reason[:100]
    return [b.id for b in ended]


def record_death(
    db: Database, actor: Actor, person_id: int, died_on: dt.date, *, now: dt.datetime | None = None
) -> list[int]:
    """The date of death; every binding the person provides or receives ends (HF-2.2, WH-10)."""
    actor.require("enrolment")
    at = now or dt.datetime.now()
    if died_on > at.date():
        raise ServiceError(f"死亡日期不能晚于今天：{died_on}")
    with db.transaction() as session:
        person = _person(session, person_id)
        if person.died_on is not None:
            raise ServiceError(f"{person.name} 的死亡日期已登记为 {person.died_on}")
        person.died_on = died_on
        ended = end_bindings(
            session,
            person.id,
            at,
            f"{'提供人' if person.insutype == EMPLOYEE else '参保人'}于 {died_on} 死亡（HF-2.2）",
            as_beneficiary=True,
        )
        record(
            session,
            actor,
            "death",
            person.psn_no,
            at=at,
            before={"died_on": None},
            after={"died_on": died_on, "bindings_ended": ended},
        )
        return ended


def change_enrolment(
    db: Database,
    actor: Actor,
    person_id: int,
    *,
    insutype: str | None = None,
    status: str | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """A new insurance type or benefit status. Leaving employee insurance ends the bindings the
    person provides (HF-1.2, HF-2.2); coming back to it ends the self binding (HF-2.1, decision
    8); a suspension or arrears ends nothing (skipped at settlement)."""
    actor.require("enrolment")
    if insutype is not None and insutype not in INSUTYPES_KNOWN:
        raise ServiceError(f"未知险种：{insutype}")
    if status is not None and status not in STATUSES:
        raise ServiceError(f"未知的参保状态：{status}")
    at = now or dt.datetime.now()
    with db.transaction() as session:
        person = _person(session, person_id)
        before = {"insutype": person.insutype, "status": person.status}
        ended: list[int] = []
        if insutype is not None and insutype != person.insutype:
            if person.insutype == EMPLOYEE:
                ended = end_bindings(
                    session, person.id, at, f"提供人已不参加职工医保（改为 {insutype}，HF-2.2）"
                )
            elif insutype == EMPLOYEE:  # re-employed: the self case of HF-2.1 ends (decision 8)
                ended = end_bindings(
                    session, person.id, at, "本人重新参加职工医保，本人账户不再以共济支付（HF-2.1，决定 8）"
                )
            person.insutype = insutype
        if status is not None:
            person.status = status
        record(
            session,
            actor,
            "enrolment_change",
            person.psn_no,
            at=at,
            before=before,
            after={"insutype": person.insutype, "status": person.status, "bindings_ended": ended},
        )
        return ended
