"""A visit sent to the centre online, message by message, for a patient the centre settles
(services/elsewhere.py, decision 12): the pre-settlement probe and the settlement itself.

Each message is built from its payload as the outbox would (messages.build), with the visit's
mdtrt_id from the 2201 answer. A visit left half-registered by a failure is cancelled (2205, 2202);
a settling message whose answer was lost is reversed (2601), queued if the centre is away too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from ..services import numbers, upstream
from ..services.elsewhere import ElsewhereVisit
from ..services.errors import CentreRefused, CentreUnavailable
from ..store import Database
from ..store.models import Institution, Person
from . import answers
from . import fields as F
from . import messages as M
from .client import CentreClient, Rejected, Transient
from .outbox import _mdtrt_id
from .signin import SignIns


class Visit:
    """One visit's conversation: the institution, the sign-in, the ids the answers gave."""

    def __init__(
        self,
        db: Database,
        client: CentreClient,
        sign_ins: SignIns,
        visit: ElsewhereVisit,
        now: Callable[[], dt.datetime],
    ) -> None:
        self.db, self.client, self.visit, self.now = db, client, visit, now
        at = now()
        with db.sessions() as session:
            inst = session.execute(
                select(Institution).where(Institution.code == visit.institution_code)
            ).scalar_one()
            if inst is None:
                raise CentreRefused(f"未知的定点机构编码：{visit.institution_code}")
            session.expunge(inst)
        self.inst = inst
        try:
            self.sign_no = sign_ins.for_operator(inst, visit.operator, visit.operator_name, at)
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）：未结算") from None
        self.mdtrt_id = ""
        self.sent: list[str] = []

    def send(self, infno: str, input: dict[str, Any], msgid: str | None = None) -> dict[str, Any]:
        """The checked answer; CentreUnavailable or CentreRefused with the reason."""
        if msgid is None:
            with self.db.transaction() as session:
                msgid = numbers.msgids(session, session.get_one(Institution, self.inst.id), self.now())[0]
        env = F.envelope(
            infno=infno,
            msgid=msgid,
            institution_code=self.inst.code,
            institution_name=self.inst.name,
            admdvs=self.inst.admdvs,
            operator=self.visit.operator,
            operator_name=self.visit.operator_name,
            at=self.now(),
            input=input,
            sign_no=self.sign_no,
            insuplc_admdvs=self.visit.insuplc_admdvs or self.inst.admdvs,
        )
        try:
            answer = self.client.send(env)
        except Transient as exc:
            raise CentreUnavailable(f"医保中心暂时无法连接（{exc}）：未结算") from None
        except Rejected as exc:
            raise CentreRefused(f"{exc.kind}：{exc}") from None
        self.sent.append(infno)
        return answer

    def message(self, n: int) -> dict[str, Any]:
        infno, payload = self.visit.messages[n]
        answer = self.send(infno, M.build(infno, payload, M.Ids(self.mdtrt_id)), self.visit.msgids[n])
        if infno == F.REGISTER:
            self.mdtrt_id = _mdtrt_id(answers.output(answer))
        return answer

    def abandon(self) -> None:
        """Cancel what a failure left registered (best effort: the centre may be away)."""
        if not self.mdtrt_id:
            return
        psn_no, batch = self.visit.psn_no, self.visit.visit_key
        try:
            if F.FEE_UPLOAD in self.sent:
                self.send(
                    F.FEE_CANCEL, {"data": {"mdtrt_id": self.mdtrt_id, "chrg_bchno": batch, "psn_no": psn_no}}
                )
            self.send(
                F.REGISTER_CANCEL,
                {"data": {"psn_no": psn_no, "mdtrt_id": self.mdtrt_id, "ipt_otp_no": batch}},
            )
        except (CentreUnavailable, CentreRefused):
            pass  # an abandoned registration settles nothing; reconciliation never sees it

    def reverse(self) -> None:
        """2601 for the settling message; queued when the centre does not take it now."""
        infno, _ = self.visit.messages[-1]
        omsgid = self.visit.msgids[-1]
        try:
            self.send(
                F.REVERSAL,
                M.build(
                    F.REVERSAL, {"psn_no": self.visit.psn_no, "omsgid": omsgid, "oinfno": infno}, M.Ids()
                ),
            )
        except (CentreUnavailable, CentreRefused):
            with self.db.transaction() as session:
                inst = session.get_one(Institution, self.inst.id)
                person = session.execute(
                    select(Person).where(Person.psn_no == self.visit.psn_no)
                ).scalar_one()
                upstream.queue_reversal(
                    session,
                    inst,
                    person,
                    visit_key=self.visit.visit_key,
                    omsgid=omsgid,
                    oinfno=infno,
                    operator=self.visit.operator,
                    at=self.now(),
                )


def presettle(
    db: Database,
    client: CentreClient,
    sign_ins: SignIns,
    visit: ElsewhereVisit,
    now: Callable[[], dt.datetime],
) -> dict[str, Any]:
    """The probe: every message but the last as the visit's, the last pre-settling; then abandoned."""
    talk = Visit(db, client, sign_ins, visit, now)
    try:
        for n in range(len(visit.messages)):
            answer = talk.message(n)
    finally:
        talk.abandon()
    return dict(answers.output(answer).get("setlinfo") or {})


def settle(
    db: Database,
    client: CentreClient,
    sign_ins: SignIns,
    visit: ElsewhereVisit,
    now: Callable[[], dt.datetime],
) -> list[dict[str, Any]]:
    """The visit's messages in order; their answers. Before the settling message a failure cancels
    the registration; the settling message unanswered is reversed."""
    talk = Visit(db, client, sign_ins, visit, now)
    out = []
    last = len(visit.messages) - 1
    for n in range(len(visit.messages)):
        try:
            out.append(talk.message(n))
        except CentreUnavailable:
            if n == last:
                talk.reverse()  # the centre may have settled and the answer been lost
            else:
                talk.abandon()
            raise
        except CentreRefused:
            talk.abandon()
            raise
    return out


def reverse(
    db: Database,
    client: CentreClient,
    sign_ins: SignIns,
    visit: ElsewhereVisit,
    now: Callable[[], dt.datetime],
) -> None:
    try:
        talk = Visit(db, client, sign_ins, visit, now)
    except CentreUnavailable:
        with db.transaction() as session:
            inst = session.execute(
                select(Institution).where(Institution.code == visit.institution_code)
            ).scalar_one()
            person = session.execute(select(Person).where(Person.psn_no == visit.psn_no)).scalar_one()
            upstream.queue_reversal(
                session,
                inst,
                person,
                visit_key=visit.visit_key,
                omsgid=visit.msgids[-1],
                oinfno=visit.messages[-1][0],
                operator=visit.operator,
                at=now(),
            )
        return
    talk.reverse()
