"""Draining the outbox to the insurance centre: exactly once in effect, in order per person.

Each message keeps its msgid on every retry and the centre answers a repeat with its first
answer, so sending again after a crash or a lost reply never settles twice. A message is only
sent once every earlier message of the same person has been sent, so a refund never overtakes
its settlement. Transient failures back off exponentially with jitter; a rejection is parked
with the centre's reason, and that person's later messages wait behind it for a supervisor.
Results are written back in one transaction per batch: a crash between sending and writing
only means those messages are sent again, and answered the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from ..services import numbers, upstream
from ..services.sync_status import OutboxEntry as OutboxEntry  # re-exported: the outbox's words
from ..services.sync_status import release as release
from ..services.sync_status import unsent as unsent
from ..services.sync_status import void as void
from ..store import Database
from ..store.models import CentreResult, Institution, Outbox, Staff
from . import compare, wire
from . import fields as F
from . import messages as M
from .client import CentreClient, Rejected, Transient
from .signin import SignIns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 2.0
    cap_seconds: float = 600.0
    jitter: float = 0.5  # the wait is drawn from [1 - jitter, 1] x the exponential step

    def delay(self, attempts: int, rng: random.Random) -> dt.timedelta:
        step = min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return dt.timedelta(seconds=step * (1 - self.jitter * rng.random()))


@dataclass
class DrainReport:
    sent: int = 0
    retried: int = 0
    parked: int = 0
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, other: DrainReport) -> DrainReport:
        self.sent += other.sent
        self.retried += other.retried
        self.parked += other.parked
        self.errors += other.errors
        return self


def due(session: Any, now: dt.datetime, limit: int, person_key: str | None = None) -> list[Outbox]:
    """Pending messages that are due, in order, with nothing before them for the same person that
    is parked or waiting out a back-off: each person's due messages form one chain, sent in order.

    The held messages (parked, or backing off) are few: they are grouped once into each person's
    first held id, and joined, rather than looked for again under every due message (that walked
    each person's earlier messages, a cost growing with the backlog squared)."""
    held = (
        select(Outbox.person_key, func.min(Outbox.id).label("first_held"))
        .where(or_(Outbox.status == "parked", and_(Outbox.status == "pending", Outbox.next_attempt_at > now)))
        .group_by(Outbox.person_key)
    )
    if person_key is not None:
        held = held.where(Outbox.person_key == person_key)
    first = held.subquery()
    query = (
        select(Outbox)
        .outerjoin(first, first.c.person_key == Outbox.person_key)
        .where(
            Outbox.status == "pending",
            Outbox.next_attempt_at <= now,
            or_(first.c.first_held.is_(None), Outbox.id < first.c.first_held),
        )
    )
    if person_key is not None:
        query = query.where(Outbox.person_key == person_key)
    return list(session.scalars(query.order_by(Outbox.id).limit(limit)))


def _output(response: str | None) -> dict[str, Any]:
    if not response:
        return {}
    output = wire.loads(response).get("output")
    return output if isinstance(output, dict) else {}


def _mdtrt_id(output: dict[str, Any]) -> str:
    """The visit's id in a registration answer: 2201 answers it in `data`, 2401 in `result`."""
    for node in (output.get("data"), output.get("result"), output):
        if isinstance(node, dict) and node.get("mdtrt_id"):
            return str(node["mdtrt_id"])
    return ""


class Sender:
    """Builds each envelope from the outbox row, and remembers the ids the centre's answers gave
    (the visit's mdtrt_id, each settlement's setl_id) for the messages after them."""

    def __init__(self, db: Database, client: CentreClient) -> None:
        self.db, self.client = db, client
        self.sign_ins = SignIns(db, client)  # the operator's sign_no, signed in before their first message
        self._institutions: dict[int, Institution] = {}
        self._names: dict[str, str] = {}
        self.mdtrt_ids: dict[str, str] = {}  # visit_key -> mdtrt_id
        self.settled: dict[str, dict[str, Any]] = {}  # msgid of a settling message -> its setlinfo

    def prepare(self, session: Any, batch: list[Outbox]) -> None:
        """Load, in three queries, what the batch needs from the store: institutions, operators'
        names, and the answers already received for its visits and cancelled settlements."""
        for inst_id in {m.institution_id for m in batch if m.institution_id is not None} - set(
            self._institutions
        ):
            self._institutions[inst_id] = session.get_one(Institution, inst_id)
        names = {m.operator for m in batch} - set(self._names)
        if names:
            self._names.update(
                session.execute(select(Staff.staff_no, Staff.name).where(Staff.staff_no.in_(names))).all()
            )
        visits = {m.visit_key for m in batch if m.visit_key} - set(self.mdtrt_ids)
        if visits:
            for visit, response in session.execute(
                select(Outbox.visit_key, Outbox.response).where(
                    Outbox.visit_key.in_(visits), Outbox.infno.in_(F.REGISTER_INFNOS), Outbox.status == "sent"
                )
            ):
                mdtrt_id = _mdtrt_id(_output(response))
                if mdtrt_id:
                    self.mdtrt_ids[visit] = mdtrt_id
        originals = {json.loads(m.payload).get("omsgid") for m in batch if m.infno in F.CANCEL_INFNOS} - {
            None,
            "",
        }
        originals -= set(self.settled)
        if originals:
            for msgid, response in session.execute(
                select(Outbox.msgid, Outbox.response).where(
                    Outbox.msgid.in_(originals), Outbox.status == "sent"
                )
            ):
                self.settled[msgid] = _output(response).get("setlinfo", {})

    def learn(self, msg: Outbox, answer: dict[str, Any]) -> None:
        output: dict[str, Any] = answer["output"] if isinstance(answer.get("output"), dict) else {}
        if msg.infno in F.REGISTER_INFNOS and msg.visit_key:
            mdtrt_id = _mdtrt_id(output)
            if mdtrt_id:
                self.mdtrt_ids[msg.visit_key] = mdtrt_id
        if msg.infno in F.SETTLE_INFNOS:
            self.settled[msg.msgid] = output.get("setlinfo", {})

    def envelope(self, msg: Outbox, now: dt.datetime) -> dict[str, Any]:
        """Raises messages.Unresolvable when an id it needs was never given."""
        payload = json.loads(msg.payload)
        if payload.get("v") != upstream.PAYLOAD_VERSION:
            raise M.Unresolvable("0007 之前格式的报文，不能按国家平台的交易顺序发送，请主管核对后作废")
        if msg.infno in F.CANCEL_INFNOS:
            original = self.settled.get(payload.get("omsgid") or "", {})
            ids = M.Ids(mdtrt_id=str(original.get("mdtrt_id", "")), setl_id=str(original.get("setl_id", "")))
        else:
            ids = M.Ids(mdtrt_id=self.mdtrt_ids.get(msg.visit_key or "", ""))
        if msg.institution_id is None:
            raise M.Unresolvable("报文没有定点机构，不能发送，请主管核对后作废")
        inst = self._institutions[msg.institution_id]
        operator = msg.operator or "system"
        name = self._names.get(operator, operator)
        input = M.build(msg.infno, payload, ids)
        return F.envelope(
            infno=msg.infno,
            msgid=msg.msgid,
            institution_code=inst.code,
            institution_name=inst.name,
            admdvs=inst.admdvs,
            operator=operator,
            operator_name=name,
            at=now,
            input=input,
            insuplc_admdvs=payload.get("insuplc_admdvs") or inst.admdvs,
            sign_no=self.sign_ins.for_operator(inst, operator, name, now),
        )


Outcome = tuple[tuple[int, int], str, Any, Outbox]

IN_FLIGHT = 4  # persons' chains the counter's drains send at once (the client keeps 4 connections)


def drain(
    db: Database,
    client: CentreClient,
    *,
    now: Callable[[], dt.datetime] = dt.datetime.now,
    batch: int = 200,
    max_messages: int | None = None,
    policy: RetryPolicy = RetryPolicy(),
    rng: random.Random | None = None,
    person_key: str | None = None,
    progress: Callable[[int], None] | None = None,
    in_flight: int = 1,
) -> DrainReport:
    """Send what is due until nothing is, a transient failure says to wait, or max_messages; with
    `person_key`, only that person's messages (a discharge sends its stay's queue first).

    `in_flight` persons' chains are sent at once (each chain still one message after another), so
    the counter builds and records while the centre answers; the counter's own drains send IN_FLIGHT."""
    rng = rng or random.Random()
    sender = Sender(db, client)
    report = DrainReport()
    pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="drain") if in_flight > 1 else None
    try:
        while max_messages is None or report.sent + report.parked < max_messages:
            size = batch if max_messages is None else min(batch, max_messages - report.sent - report.parked)
            with db.sessions() as session:  # read, then let go before any network wait
                messages = due(session, now(), size, person_key)
                sender.prepare(session, messages)
                session.expunge_all()
            if not messages:
                break
            stop = threading.Event()  # the centre is not answering: back off rather than hammer it
            if pool is None:  # in id order, as queued
                outcomes = _send_chains(sender, messages, now, stop)
            else:
                chains: dict[str, list[Outbox]] = {}
                for msg in messages:
                    chains.setdefault(msg.person_key, []).append(msg)
                futures = [pool.submit(_send_chains, sender, chain, now, stop) for chain in chains.values()]
                outcomes = [o for future in futures for o in future.result()]
            report += _record(db, outcomes, now(), policy, rng)
            if progress:
                progress(report.sent + report.parked)
            if stop.is_set():
                break
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return report


def _send_chains(
    sender: Sender, messages: list[Outbox], now: Callable[[], dt.datetime], stop: threading.Event
) -> list[Outcome]:
    """Due messages in order; a person's chain stops at a refusal (their later messages wait behind
    it), and every chain stops when the centre stops answering (after the messages in flight)."""
    client = sender.client
    outcomes: list[Outcome] = []
    stopped: set[str] = set()
    for msg in messages:
        if stop.is_set():
            break
        if msg.person_key in stopped:
            continue
        key = (msg.id, msg.attempts + 1)
        try:
            answer = client.send(sender.envelope(msg, now()))
            result = _centre_result(msg, answer, now(), client.profile)
        except M.Unresolvable as exc:
            outcomes.append((key, "parked", (f"无法发送：{exc}", {}), msg))
            stopped.add(msg.person_key)
            continue
        except Transient as exc:
            outcomes.append((key, "retry", str(exc), msg))
            stop.set()
            break
        except Rejected as exc:  # a refusal, or an answer that cannot be recorded (BadAnswer)
            outcomes.append((key, "parked", (f"{exc.kind}：{exc}", exc.response), msg))
            stopped.add(msg.person_key)
            continue
        except Exception as exc:
            log.exception("sync: the answer to %s could not be handled", msg.msgid)
            outcomes.append(
                (key, "parked", (f"应答无法处理：{type(exc).__name__}: {str(exc)[:200]}", {}), msg)
            )
            stopped.add(msg.person_key)
            continue
        sender.learn(msg, answer)
        outcomes.append((key, "sent", (answer, result), msg))
    return outcomes


def _centre_result(msg: Outbox, answer: dict[str, Any], at: dt.datetime, profile: str) -> CentreResult | None:
    """The centre's answer to a settlement beside the counter's own (compare.py); None for others."""
    if msg.infno in F.SETTLE_INFNOS and msg.settlement_id is not None:
        return compare.result_row(msg, json.loads(msg.payload)["setlinfo"], answer, at, profile)
    return None


def _record(
    db: Database,
    outcomes: list[Outcome],
    at: dt.datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> DrainReport:
    """Write the batch's results in one transaction, as one bulk UPDATE per kind of outcome, and
    the centre's answer to each settlement beside the counter's own (compare.py)."""
    report = DrainReport()
    rows: dict[str, list[dict[str, Any]]] = {"sent": [], "parked": [], "retry": []}
    results: list[CentreResult] = []
    for (msg_id, attempts), outcome, detail, _msg in outcomes:
        if outcome == "sent":
            answer, result = detail
            rows["sent"].append(
                {
                    "id": msg_id,
                    "attempts": attempts,
                    "status": "sent",
                    "sent_at": at,
                    "last_error": None,
                    "response": wire.dumps_text(answer),
                }
            )
            if result is not None:
                results.append(result)
            report.sent += 1
        elif outcome == "parked":
            reason, response = detail
            rows["parked"].append(
                {
                    "id": msg_id,
                    "attempts": attempts,
                    "status": "parked",
                    "last_error": reason[:2000],
                    "response": wire.dumps_text(response),
                }
            )
            report.parked += 1
        else:
            rows["retry"].append(
                {
                    "id": msg_id,
                    "attempts": attempts,
                    "last_error": detail,
                    "next_attempt_at": at + policy.delay(attempts, rng),
                }
            )
            report.retried += 1
            report.errors.append(detail)
    if outcomes:
        with db.transaction() as session:
            for batch in rows.values():
                if batch:
                    session.execute(update(Outbox), batch)
            session.add_all(results)
    return report


def reverse(
    db: Database, client: CentreClient, msgid: str, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """2601: ask the centre to reverse a message whose answer was lost, e.g. one a supervisor
    parked while unsure whether the centre had taken it. The reversal has its own msgid, drawn
    from the institution's message counter like every other (digits only)."""
    at = now or dt.datetime.now()
    with db.transaction() as session:
        msg = session.scalar(select(Outbox).where(Outbox.msgid == msgid))
        if msg is None:
            raise LookupError(f"没有报文 {msgid}")
        inst = session.get_one(Institution, msg.institution_id)
        reversal_id = numbers.msgids(session, inst, at)[0]
        operator = msg.operator or "system"
        name = session.scalar(select(Staff.name).where(Staff.staff_no == operator)) or operator
        place = json.loads(msg.payload).get("insuplc_admdvs") or inst.admdvs
        input = M.build(F.REVERSAL, {"psn_no": msg.person_key, "omsgid": msgid, "oinfno": msg.infno}, M.Ids())
        session.expunge(inst)
    env = F.envelope(
        infno=F.REVERSAL,
        msgid=reversal_id,
        institution_code=inst.code,
        institution_name=inst.name,
        admdvs=inst.admdvs,
        operator=operator,
        operator_name=name,
        at=at,
        input=input,
        insuplc_admdvs=place,
        sign_no=SignIns(db, client).for_operator(inst, operator, name, at),
    )
    return client.send(env)
