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
import random
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from ..services.sync_status import OutboxEntry, release, unsent, void  # noqa: F401 - re-exported
from ..store import Database
from ..store.models import Institution, Outbox, Settlement, Staff
from . import fields as F
from .client import CentreClient, Rejected, Transient


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

    def __iadd__(self, other: "DrainReport") -> "DrainReport":
        self.sent += other.sent
        self.retried += other.retried
        self.parked += other.parked
        self.errors += other.errors
        return self


def due(session: Any, now: dt.datetime, limit: int) -> list[tuple[Outbox, Settlement]]:
    """Pending messages that are due and have nothing unsent before them for the same person,
    each with its settlement (one query for the batch)."""
    earlier = aliased(Outbox)
    blocked = exists().where(and_(earlier.person_key == Outbox.person_key, earlier.id < Outbox.id,
                                  earlier.status.in_(("pending", "parked"))))
    return [tuple(row) for row in session.execute(
        select(Outbox, Settlement).join(Settlement, Settlement.id == Outbox.settlement_id)
        .where(Outbox.status == "pending", Outbox.next_attempt_at <= now, ~blocked)
        .order_by(Outbox.id).limit(limit))]


class Sender:
    """Builds each envelope from the outbox row and the store, and sends it."""

    def __init__(self, db: Database, client: CentreClient) -> None:
        self.db, self.client = db, client
        self._institutions: dict[int, Institution] = {}
        self._names: dict[str, str] = {}

    def envelope(self, session: Any, msg: Outbox, settlement: Settlement, now: dt.datetime) -> dict[str, Any]:
        payload = json.loads(msg.payload)
        inst = self._institutions.get(settlement.institution_id)
        if inst is None:
            inst = self._institutions[settlement.institution_id] = session.get(Institution, settlement.institution_id)
        if settlement.cashier not in self._names:
            self._names[settlement.cashier] = session.scalar(
                select(Staff.name).where(Staff.staff_no == settlement.cashier)) or settlement.cashier
        if msg.infno in F.SETTLE_INFNOS:
            data = F.settle_data(payload, msg.msgid)
        elif msg.infno in F.CANCEL_INFNOS:
            data = F.cancel_data(payload, self._centre_setl_id(session, payload["omsgid"]))
        else:
            data = payload
        return F.envelope(infno=msg.infno, msgid=msg.msgid, institution_code=inst.code, institution_name=inst.name,
                          admdvs=inst.admdvs, operator=settlement.cashier, operator_name=self._names[settlement.cashier],
                          at=now, data=data)

    @staticmethod
    def _centre_setl_id(session: Any, omsgid: str) -> str:
        """The centre's setl_id of the original settlement, from the answer it gave (sent earlier:
        messages go in order per person)."""
        answer = session.scalar(select(Outbox.response).where(Outbox.msgid == omsgid))
        return json.loads(answer)["output"]["setlinfo"]["setl_id"] if answer else ""


def drain(db: Database, client: CentreClient, *, now: Callable[[], dt.datetime] = dt.datetime.now,
          batch: int = 200, max_messages: int | None = None, policy: RetryPolicy = RetryPolicy(),
          rng: random.Random | None = None) -> DrainReport:
    """Send what is due until nothing is, a transient failure says to wait, or max_messages."""
    rng = rng or random.Random()
    sender = Sender(db, client)
    report = DrainReport()
    while max_messages is None or report.sent + report.parked < max_messages:
        size = batch if max_messages is None else min(batch, max_messages - report.sent - report.parked)
        with db.sessions() as session:  # read and build, then let go before any network wait
            envelopes = [((msg.id, msg.attempts + 1), sender.envelope(session, msg, settlement, now()))
                         for msg, settlement in due(session, now(), size)]
        if not envelopes:
            break
        outcomes: list[tuple[int, str, Any]] = []
        stop = False
        for msg_id, envelope in envelopes:
            try:
                answer = client.send(envelope)
            except Transient as exc:
                outcomes.append((msg_id, "retry", str(exc)))
                stop = True  # the centre is not answering: back off rather than hammer it
                break
            except Rejected as exc:
                outcomes.append((msg_id, "parked", (str(exc), exc.response)))
                continue
            outcomes.append((msg_id, "sent", answer))
        step = _record(db, outcomes, now(), policy, rng)
        report += step
        if stop:
            break
    return report


def _record(db: Database, outcomes: list[tuple[tuple[int, int], str, Any]], at: dt.datetime,
            policy: RetryPolicy, rng: random.Random) -> DrainReport:
    """Write the batch's results in one transaction, as one bulk UPDATE per kind of outcome."""
    report = DrainReport()
    rows: dict[str, list[dict[str, Any]]] = {"sent": [], "parked": [], "retry": []}
    for (msg_id, attempts), outcome, detail in outcomes:
        if outcome == "sent":
            rows["sent"].append({"id": msg_id, "attempts": attempts, "status": "sent", "sent_at": at,
                                 "last_error": None, "response": json.dumps(detail, ensure_ascii=False)})
            report.sent += 1
        elif outcome == "parked":
            reason, response = detail
            rows["parked"].append({"id": msg_id, "attempts": attempts, "status": "parked",
                                   "last_error": f"中心拒绝：{reason}", "response": json.dumps(response, ensure_ascii=False)})
            report.parked += 1
        else:
            rows["retry"].append({"id": msg_id, "attempts": attempts, "last_error": detail,
                                  "next_attempt_at": at + policy.delay(attempts, rng)})
            report.retried += 1
            report.errors.append(detail)
    if outcomes:
        with db.transaction() as session:
            for batch in rows.values():
                if batch:
                    session.execute(update(Outbox), batch)
    return report


def reverse(db: Database, client: CentreClient, msgid: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """2601: ask the centre to reverse a message whose answer was lost, e.g. one a supervisor
    parked while unsure whether the centre had taken it. The reversal has its own msgid."""
    at = now or dt.datetime.now()
    with db.sessions() as session:
        msg = session.scalar(select(Outbox).where(Outbox.msgid == msgid))
        if msg is None:
            raise LookupError(f"没有报文 {msgid}")
        settlement = session.get(Settlement, msg.settlement_id)
        inst = session.get(Institution, settlement.institution_id)
        payload = json.loads(msg.payload)
        reversal_id = f"{inst.code:<12.12}{at:%Y%m%d%H%M%S}R{msg.id % 1000:03d}"
        env = F.envelope(infno=F.REVERSAL, msgid=reversal_id, institution_code=inst.code, institution_name=inst.name,
                         admdvs=inst.admdvs, operator=settlement.cashier, operator_name=settlement.cashier, at=at,
                         data=F.reversal_data(payload["psn_no"], msgid, msg.infno))
    return client.send(env)
