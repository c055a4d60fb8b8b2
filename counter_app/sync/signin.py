"""Signing operators in and out with the centre (9001 / 9002), and the sign_no in force.

The platform gives each operator a `sign_no` at 9001; public integration code passes the
operator's current one with every business message (national-interface.md, "Sign-in and
sign-out"). The counter signs the cashier in when the shift opens (or, offline, the first time
the centre is reachable, before anything of theirs is sent), and out at shift close. A sign-in
is kept per operator and institution in the store, so the background sync, `counter-app sync`
and the counter window all send the same one; one from an earlier calendar day is not used
(TeaHZ's practice: signed in again).

The 9001 input carries the operator's number and the machine's IP and MAC address.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update

from ..services import numbers
from ..store import Database
from ..store.models import CentreSignIn, Institution
from . import answers
from . import fields as F
from .client import CentreClient, Rejected, Transient

IP_LENGTH = MAC_LENGTH = OPERATOR_LENGTH = 20


@dataclass(frozen=True)
class Machine:
    ip: str
    mac: str


def machine(centre_url: str) -> Machine:
    """This machine's address towards the centre (the interface a UDP socket to it would use: no
    packet is sent) and the MAC address of a network interface, as `AA-BB-CC-DD-EE-FF`."""
    host = urlsplit(centre_url).hostname or "127.0.0.1"
    ip = "127.0.0.1"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((host, 9))
            ip = probe.getsockname()[0]
    except OSError:
        pass
    node = uuid.getnode()
    mac = "-".join(f"{(node >> shift) & 0xFF:02X}" for shift in range(40, -1, -8))
    return Machine(ip[:IP_LENGTH], mac[:MAC_LENGTH])


def current(session: Any, institution_id: int, operator: str, today: dt.date) -> str | None:
    """The operator's sign_no in force today at the institution, or None."""
    row = session.execute(
        select(CentreSignIn.sign_no, CentreSignIn.signed_in_at)
        .where(
            CentreSignIn.institution_id == institution_id,
            CentreSignIn.operator == operator,
            CentreSignIn.signed_out_at.is_(None),
        )
        .order_by(CentreSignIn.id.desc())
        .limit(1)
    ).first()
    if row is None or row.signed_in_at.date() != today:
        return None
    return str(row.sign_no)


def sign_in(
    db: Database,
    client: CentreClient,
    institution_code: str,
    operator: str,
    operator_name: str,
    *,
    now: dt.datetime | None = None,
    address: Machine | None = None,
) -> str:
    """9001 for the operator; the sign_no is kept and returned. Raises Transient (unreachable) or
    Rejected (the centre refused), each with its reason."""
    at = now or dt.datetime.now()
    if not operator or len(operator) > OPERATOR_LENGTH:
        raise Rejected(f"操作员编号应为 1–{OPERATOR_LENGTH} 位：{operator[:30]!r}")
    where = address or machine(client.base_url)
    with db.transaction() as session:
        inst = _institution(session, institution_code)
        msgid = numbers.msgids(session, inst, at)[0]
        inst_id, code, name, admdvs = inst.id, inst.code, inst.name, inst.admdvs
    sign_no = ask(
        client,
        msgid=msgid,
        institution_code=code,
        institution_name=name,
        admdvs=admdvs,
        operator=operator,
        operator_name=operator_name,
        at=at,
        address=where,
    )
    with db.transaction() as session:
        session.add(
            CentreSignIn(
                institution_id=inst_id,
                operator=operator,
                sign_no=sign_no,
                signed_in_at=at,
                ip=where.ip,
                mac=where.mac,
            )
        )
    return sign_no


def ask(
    client: CentreClient,
    *,
    msgid: str,
    institution_code: str,
    institution_name: str,
    admdvs: str,
    operator: str,
    operator_name: str,
    at: dt.datetime,
    address: Machine,
) -> str:
    """One 9001 and the sign_no it answers (checked by answers.py), recording nothing."""
    env = F.envelope(
        infno=F.SIGN_IN,
        msgid=msgid,
        institution_code=institution_code,
        institution_name=institution_name,
        admdvs=admdvs,
        operator=operator,
        operator_name=operator_name,
        at=at,
        input={"signIn": {"opter_no": operator, "mac": address.mac, "ip": address.ip}},
    )
    answer = client.send(env)
    return answers.text(answers.output(answer)["signinoutb"]["sign_no"])


def sign_out(
    db: Database,
    client: CentreClient,
    institution_code: str,
    operator: str,
    operator_name: str,
    *,
    now: dt.datetime | None = None,
) -> bool:
    """9002 for the operator's sign-in in force; False when there was none. Raises Transient or
    Rejected; the sign-in is ended only once the centre has taken the sign-out."""
    at = now or dt.datetime.now()
    with db.transaction() as session:
        inst = _institution(session, institution_code)
        sign_no = current(session, inst.id, operator, at.date())
        if sign_no is None:
            return False
        msgid = numbers.msgids(session, inst, at)[0]
        inst_id, code, name, admdvs = inst.id, inst.code, inst.name, inst.admdvs
    env = F.envelope(
        infno=F.SIGN_OUT,
        msgid=msgid,
        institution_code=code,
        institution_name=name,
        admdvs=admdvs,
        operator=operator,
        operator_name=operator_name,
        at=at,
        sign_no=sign_no,
        input={"signOut": {"sign_no": sign_no, "opter_no": operator}},
    )
    client.send(env)
    with db.transaction() as session:
        session.execute(
            update(CentreSignIn)
            .where(
                CentreSignIn.institution_id == inst_id,
                CentreSignIn.operator == operator,
                CentreSignIn.signed_out_at.is_(None),
            )
            .values(signed_out_at=at)
        )
    return True


class SignIns:
    """The sign_no for each operator a drain sends for: the one in force, else a new sign-in
    (before the operator's first message goes). A centre that refuses the sign-in leaves the
    messages queued, with the reason (Transient: nothing is wrong with the messages)."""

    def __init__(self, db: Database, client: CentreClient) -> None:
        self.db, self.client = db, client
        self.known: dict[tuple[int, str], tuple[dt.date, str]] = {}
        self._lock = threading.Lock()  # chains in flight at once sign an operator in once

    def for_operator(self, inst: Institution, operator: str, operator_name: str, now: dt.datetime) -> str:
        key = (inst.id, operator)
        held = self.known.get(key)
        if held is not None and held[0] == now.date():
            return held[1]
        with self._lock:
            return self._sign_in(key, inst, operator, operator_name, now)

    def _sign_in(
        self, key: tuple[int, str], inst: Institution, operator: str, operator_name: str, now: dt.datetime
    ) -> str:
        held = self.known.get(key)
        if held is not None and held[0] == now.date():
            return held[1]
        with self.db.sessions() as session:
            sign_no = current(session, inst.id, operator, now.date())
        if sign_no is None:
            try:
                sign_no = sign_in(self.db, self.client, inst.code, operator, operator_name, now=now)
            except Rejected as exc:
                raise Transient(f"签到未成功（{exc}）：报文保留待发") from None
        self.known[key] = (now.date(), sign_no)
        return sign_no


def _institution(session: Any, code: str) -> Institution:
    inst: Institution | None = session.scalar(select(Institution).where(Institution.code == code))
    if inst is None:
        raise LookupError(f"未知的定点机构编码：{code}")
    return inst


__all__ = ["Machine", "Rejected", "SignIns", "Transient", "current", "machine", "sign_in", "sign_out"]
