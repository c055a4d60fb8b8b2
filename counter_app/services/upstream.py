"""What the counter queues for the insurance centre, in the national platform's order, inside the
caller's transaction (nothing is lost if the counter or the network dies afterwards).

- A hospital's outpatient settlement is one visit: 2201 register → 2203 visit → 2204 fee lines
  → 2207 settle; its refund is 2208. The visit number (`ipt_otp_no`) is the settlement number.
- A pharmacy (定点零售药店) registers no visit: 2102 settle, 2103 cancel.
- An inpatient stay queues 2401 at admission and 2301 for every fee line posted (2302 cancels a
  line a correction replaces); its settlement is online (services/inpatient.py).

The payloads are the counter's own record of what to say (money as strings, as in the store);
`sync/messages.py` turns each into the platform's input when it is sent, with the ids the earlier
answers of the same visit returned (`mdtrt_id`, `setl_id`).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ..engine.money import fmt
from ..infno import (
    ADMIT,
    FEE_UPLOAD,
    INPATIENT_FEE_CANCEL,
    INPATIENT_FEE_UPLOAD,
    OUTPATIENT_CANCEL,
    OUTPATIENT_SETTLE,
    PHARMACY_CANCEL,
    PHARMACY_SETTLE,
    REGISTER,
    REVERSAL,
    VISIT_INFO,
)
from ..store import audit as chain
from ..store.models import Institution, Outbox, Person
from . import numbers

PAYLOAD_VERSION = 2  # 1: the single 2207 of before the sequences (0007)


def insured_at(person: Person, inst: Institution) -> str:
    """The patient's place of insurance (insuplc_admdvs): as the centre's 1101 said, else (a person
    the counter knows only from its own registry) the institution's own division."""
    return person.insuplc_admdvs or inst.admdvs


def cert(person: Person, cert_type: str, cert_no: str) -> tuple[str, str]:
    """(mdtrt_cert_type, mdtrt_cert_no): what was scanned, else the resident ID."""
    return (cert_type, cert_no) if cert_type and cert_no else ("02", person.certno)


def _rows(
    session: Session,
    inst: Institution,
    person: Person,
    visit_key: str,
    operator: str,
    at: dt.datetime,
    messages: Sequence[tuple[str, dict[str, Any]]],
    settlement_id: int | None = None,
    first_serial: int | None = None,
) -> list[str]:
    """Outbox rows for `messages` (infno, payload) in order, with msgids from one counter draw (or
    from `first_serial` on, taken by the caller: `settlement_messages` of them)."""
    ids = numbers.msgids(session, inst, at, len(messages), first_serial)
    place = insured_at(person, inst)
    rows = [
        dict(
            msgid=ids[n],
            infno=infno,
            settlement_id=settlement_id,
            person_key=person.psn_no,
            payload=json.dumps(
                {"v": PAYLOAD_VERSION, "insuplc_admdvs": place, **payload}, ensure_ascii=False
            ),
            status="pending",
            attempts=0,
            next_attempt_at=at,
            created_at=at,
            visit_key=visit_key,
            institution_id=inst.id,
            operator=operator,
        )
        for n, (infno, payload) in enumerate(messages)
    ]
    _insert(session, rows)
    return [str(row["msgid"]) for row in rows]


_OUTBOX = cast(Table, Outbox.__table__)
_INSERT_OUTBOX = _OUTBOX.insert().returning(_OUTBOX.c.msgid, _OUTBOX.c.id)  # built once


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """One executemany that hands back the ids, so the action's audit entry seals the rows as
    written (store/audit.py) without reading them again."""
    ids = dict(session.execute(_INSERT_OUTBOX, rows).tuples().all())  # msgid -> id: order is not promised
    chain.mark_written(session, "outbox", [{**row, "id": ids[row["msgid"]]} for row in rows])


def fee_line(sn: str, fee: Any, at: dt.datetime, **extra: Any) -> dict[str, Any]:
    """One fee line of a payload: serial, both codes, quantity, unit price, amount, time."""
    return {
        "feedetl_sn": sn,
        "code": fee.code,
        "national_code": fee.national_code,
        "cnt": str(fee.quantity),
        "pric": str(fee.price),
        "amount": fmt(fee.amount),
        "fee_ocur_time": at.isoformat(sep=" ", timespec="seconds"),
        **extra,
    }


def settlement_messages(inst: Institution) -> int:
    """How many messages `queue_settlement` queues at this institution (for drawing their serials)."""
    return 1 if inst.kind == "pharmacy" else 4


def settlement_payloads(
    inst: Institution,
    person: Person,
    *,
    setl_no: str,
    med_type: str,
    cert_type: str,
    cert_no: str,
    fees: Sequence[Any],
    result: dict[str, Any],
    use_account: bool,
    at: dt.datetime,
    visit_date: dt.date | None = None,
    outside_rx: bool = False,
    visit: Any = None,
) -> list[tuple[str, dict[str, Any]]]:
    """The visit's messages (infno, payload) in the platform's order: 2201, 2203, 2204, 2207 at a
    hospital, 2102 alone at a pharmacy. The visit begins on its visit date (decision 6)."""
    cert_type, cert_no = cert(person, cert_type, cert_no)
    begin = (
        at if visit_date is None or visit_date == at.date() else dt.datetime.combine(visit_date, at.time())
    )
    begntime = begin.isoformat(sep=" ", timespec="seconds")
    common = {
        "psn_no": person.psn_no,
        "insutype": person.insutype,
        "med_type": med_type,
        "visit": visit.to_json() if visit is not None else {},
    }
    settle = {
        **common,
        "cert_type": cert_type,
        "cert_no": cert_no,
        "setl_no": setl_no,
        "begntime": begntime,
        "acct_used_flag": "1" if use_account else "0",
        "setlinfo": result,
    }
    rx = "1" if outside_rx else "0"
    lines = [fee_line(f"{setl_no}{n:03d}"[-30:], f, begin, rx_circ_flag=rx) for n, f in enumerate(fees, 1)]
    if inst.kind == "pharmacy":  # 2102 alone: druginfo + drugdetail (national-interface.md)
        return [(PHARMACY_SETTLE, {**settle, "lines": lines})]
    batch = setl_no  # one charge batch per visit: chrg_bchno
    messages: list[tuple[str, dict[str, Any]]] = [
        (
            REGISTER,
            {
                **common,
                "cert_type": cert_type,
                "cert_no": cert_no,
                "begntime": begntime,
                "ipt_otp_no": setl_no,
            },
        ),
        (VISIT_INFO, {**common, "begntime": begntime}),
        (FEE_UPLOAD, {**common, "chrg_bchno": batch, "lines": lines}),
        (OUTPATIENT_SETTLE, {**settle, "chrg_bchno": batch}),
    ]
    assert len(messages) == settlement_messages(inst)
    return messages


def queue_settlement(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    settlement_id: int,
    setl_no: str,
    med_type: str,
    cert_type: str,
    cert_no: str,
    fees: Sequence[Any],
    result: dict[str, Any],
    use_account: bool,
    operator: str,
    at: dt.datetime,
    visit_date: dt.date | None = None,
    outside_rx: bool = False,
    first_serial: int | None = None,
    visit: Any = None,
) -> str:
    """The visit's messages for one settlement; returns the msgid of the settling message."""
    messages = settlement_payloads(
        inst,
        person,
        setl_no=setl_no,
        med_type=med_type,
        cert_type=cert_type,
        cert_no=cert_no,
        fees=fees,
        result=result,
        use_account=use_account,
        at=at,
        visit_date=visit_date,
        outside_rx=outside_rx,
        visit=visit,
    )
    return _rows(session, inst, person, setl_no, operator, at, messages, settlement_id, first_serial)[-1]


def record_sent(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    settlement_id: int,
    visit_key: str,
    operator: str,
    at: dt.datetime,
    messages: Sequence[tuple[str, dict[str, Any]]],
    msgids: Sequence[str],
    responses: Sequence[str],
) -> None:
    """Messages sent online before the settlement was recorded (a visit the centre settles, decision
    12), written as sent with their answers: a refund finds its setl_id there, reconciliation its msgid."""
    place = insured_at(person, inst)
    rows = [
        dict(
            msgid=msgid,
            infno=infno,
            settlement_id=settlement_id,
            person_key=person.psn_no,
            payload=json.dumps(
                {"v": PAYLOAD_VERSION, "insuplc_admdvs": place, **payload}, ensure_ascii=False
            ),
            status="sent",
            attempts=1,
            next_attempt_at=at,
            created_at=at,
            sent_at=at,
            response=response,
            visit_key=visit_key,
            institution_id=inst.id,
            operator=operator,
        )
        for (infno, payload), msgid, response in zip(messages, msgids, responses, strict=True)
    ]
    _insert(session, rows)


def queue_cancel(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    settlement_id: int,
    setl_no: str,
    visit_key: str,
    omsgid: str,
    oinfno: str,
    reason: str,
    result: dict[str, Any],
    operator: str,
    at: dt.datetime,
    first_serial: int | None = None,
) -> str:
    """2208 (or 2103 at a pharmacy) for a refund: names the original by the centre's setl_id, read
    from the original's answer when sent (the original goes first: one person's messages keep order)."""
    infno = PHARMACY_CANCEL if oinfno == PHARMACY_SETTLE else OUTPATIENT_CANCEL
    payload = {
        "psn_no": person.psn_no,
        "insutype": person.insutype,
        "setl_no": setl_no,
        "omsgid": omsgid,
        "reason": reason,
        "setlinfo": result,
        "setl_time": at.isoformat(timespec="seconds"),
    }
    return _rows(
        session, inst, person, visit_key, operator, at, [(infno, payload)], settlement_id, first_serial
    )[-1]


def queue_admission(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    adm_no: str,
    cert_type: str,
    cert_no: str,
    operator: str,
    at: dt.datetime,
    visit: Any = None,
) -> str:
    cert_type, cert_no = cert(person, cert_type, cert_no)
    payload = {
        "visit": visit.to_json() if visit is not None else {},
        "psn_no": person.psn_no,
        "insutype": person.insutype,
        "med_type": "21",
        "cert_type": cert_type,
        "cert_no": cert_no,
        "begntime": at.isoformat(sep=" ", timespec="seconds"),
        "adm_no": adm_no,
    }
    return _rows(session, inst, person, adm_no, operator, at, [(ADMIT, payload)])[-1]


def queue_fee(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    adm_no: str,
    sn: str | None,
    fee: Any,
    cancels: Sequence[str],
    operator: str,
    at: dt.datetime,
    visit: Any = None,
) -> None:
    """2301 for one fee line; a correction first cancels the lines it replaces (2302 each), then
    uploads what is left as one line (none when nothing is)."""
    messages: list[tuple[str, dict[str, Any]]] = [
        (INPATIENT_FEE_CANCEL, {"psn_no": person.psn_no, "feedetl_sn": cancelled}) for cancelled in cancels
    ]
    if sn is not None:
        messages.append(
            (
                INPATIENT_FEE_UPLOAD,
                {
                    "psn_no": person.psn_no,
                    "med_type": "21",
                    "visit": visit.to_json() if visit is not None else {},
                    "lines": [fee_line(sn, fee, at)],
                },
            )
        )
    if messages:
        _rows(session, inst, person, adm_no, operator, at, messages)


def queue_reversal(
    session: Session,
    inst: Institution,
    person: Person,
    *,
    visit_key: str,
    omsgid: str,
    oinfno: str,
    operator: str,
    at: dt.datetime,
) -> str:
    """2601 for a message whose answer the counter could not act on (an online 2304 it did not
    record): queued, so it reaches the centre before anything else of the person's."""
    payload = {"psn_no": person.psn_no, "omsgid": omsgid, "oinfno": oinfno}
    return _rows(session, inst, person, visit_key, operator, at, [(REVERSAL, payload)])[-1]
