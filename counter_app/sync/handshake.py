"""The signed handshake with the insurance centre: a 9001 sign-in through the gateway, to check a
counter's centre URL and credentials before they are saved (the supervisor's 设置 dialog)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from ..services import numbers
from . import fields as F
from .client import CentreClient, Rejected, Transient
from .gateway import Credentials


def sign_in(url: str, credentials: Credentials, *, institution_code: str, institution_name: str, admdvs: str,
            operator: str, operator_name: str, now: dt.datetime | None = None) -> str:
    """The centre's sign number for this counter's operator; raises Transient (unreachable, or the
    gateway refused the signature) or Rejected (the centre refused the sign-in), each with its reason."""
    at = now or dt.datetime.now()
    msgid = numbers.msgid(SimpleNamespace(code=institution_code), at, 0)
    env = F.envelope(infno=F.SIGN_IN, msgid=msgid, institution_code=institution_code,
                     institution_name=institution_name, admdvs=admdvs, operator=operator, operator_name=operator_name,
                     at=at, input={"signIn": {"opter_no": operator, "mac": "", "ip": ""}})
    client = CentreClient(url, credentials=credentials, timeout=5.0)
    try:
        answer = client.send(env)
    finally:
        client.close()
    sign_no = ((answer.get("output") or {}).get("signinoutb") or {}).get("sign_no")
    if not sign_no:
        raise Rejected(f"医保中心未返回签到号：{str(answer)[:120]}")
    return str(sign_no)


__all__ = ["Rejected", "Transient", "sign_in"]
