"""The signed handshake with the insurance centre: a 9001 sign-in through the gateway, to check a
counter's centre URL and credentials before they are saved (the supervisor's 设置 dialog). It
records nothing: the cashier's own sign-in happens at shift open (signin.py)."""

from __future__ import annotations

import datetime as dt

from ..services import numbers
from .client import CentreClient, Rejected, Transient
from .gateway import Credentials
from .signin import ask, machine


def sign_in(
    url: str,
    credentials: Credentials,
    *,
    institution_code: str,
    institution_name: str,
    admdvs: str,
    operator: str,
    operator_name: str,
    now: dt.datetime | None = None,
) -> str:
    """The centre's sign number for this counter's operator; raises Transient (unreachable, or the
    gateway refused the signature) or Rejected (the centre refused the sign-in), each with its reason."""
    at = now or dt.datetime.now()
    msgid = numbers.msgid(institution_code, at, 0)
    client = CentreClient(url, credentials=credentials, timeout=5.0, deadline=10.0)
    try:
        return ask(
            client,
            msgid=msgid,
            institution_code=institution_code,
            institution_name=institution_name,
            admdvs=admdvs,
            operator=operator,
            operator_name=operator_name,
            at=at,
            address=machine(url),
        )
    finally:
        client.close()


__all__ = ["Rejected", "Transient", "sign_in"]
