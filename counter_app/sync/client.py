"""The counter's HTTP client of the insurance centre: one envelope in, one answer out.

A failure is either transient (no connection, timeout, a dropped reply, a 5xx: try again later
with the same msgid) or a rejection (the centre answered infcode != 0: it will never accept this
message as it is, so it is parked for a supervisor).
"""
from __future__ import annotations

from typing import Any

import httpx

from . import fields as F, wire
from .gateway import Credentials, sign


class Transient(Exception):
    """Could not get an answer; the same message may be sent again."""


class Rejected(Exception):
    """The centre answered and said no; `response` is its answer."""

    def __init__(self, message: str, response: dict[str, Any]) -> None:
        super().__init__(message)
        self.response = response


class CentreClient:
    """Signs every request with the counter's gateway credentials (gateway.py); without them the
    requests go unsigned and a real gateway, like the reference centre, refuses them."""

    def __init__(self, base_url: str, *, credentials: Credentials | None = None, timeout: float = 10.0,
                 profile: str = "national") -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.profile = profile  # hefei_names: which names the centre answers in
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout,
                                 limits=httpx.Limits(max_keepalive_connections=4))

    def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The centre's answer to one message; raises Transient or Rejected."""
        try:
            headers = sign(self.credentials) if self.credentials else {}
            headers["content-type"] = "application/json"
            reply = self.http.post(F.API_PATH, content=wire.dumps(envelope), headers=headers)
        except httpx.TransportError as exc:  # refused, timed out, reply dropped mid-way
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        if reply.status_code >= 500:
            raise Transient(f"HTTP {reply.status_code}")
        if reply.status_code in (401, 403):  # the gateway refused the signature: stays queued, said plainly
            raise Transient(f"网关拒绝（HTTP {reply.status_code}）：{_reason(reply)}")
        if reply.status_code != 200:
            raise Transient(f"HTTP {reply.status_code} from {self.base_url}")
        try:
            body = wire.loads(reply.content)
        except ValueError as exc:
            raise Transient(f"answer is not JSON: {reply.text[:100]!r}") from exc
        if body.get("infcode") != F.SUCCESS:
            raise Rejected(str(body.get("err_msg") or f"infcode {body.get('infcode')}"), body)
        return body

    def close(self) -> None:
        self.http.close()


def _reason(reply: httpx.Response) -> str:
    try:
        return str(reply.json().get("err_msg", ""))[:200]
    except ValueError:
        return reply.text[:200]
