"""The provincial gateway's signed headers ("tif"), made by the counter and checked by the
reference centre (national-interface.md, "HTTP gateway headers").

Every request carries `x-tif-paasid`, `x-tif-timestamp` (Unix seconds), `x-tif-nonce` (fresh per
request) and `x-tif-signature` = lower-case hex SHA-256 of timestamp + passtoken + nonce +
timestamp. The passtoken itself never travels. A gateway refuses a missing or wrong signature, a
timestamp too far off (5 minutes here; the real window is the gateway's) and a nonce seen before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

WINDOW_SECONDS = 300
HEADERS = ("x-tif-paasid", "x-tif-timestamp", "x-tif-nonce", "x-tif-signature")
TRAINING_PAASID = "training"  # the reference centre's default credentials: for training only
TRAINING_PASSTOKEN = "training-passtoken"


@dataclass(frozen=True)
class Credentials:
    paasid: str
    passtoken: str = field(repr=False)


def signature(timestamp: str, passtoken: str, nonce: str) -> str:
    return hashlib.sha256(f"{timestamp}{passtoken}{nonce}{timestamp}".encode()).hexdigest()


def sign(credentials: Credentials, *, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four headers for one request."""
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    return {
        "x-tif-paasid": credentials.paasid,
        "x-tif-timestamp": timestamp,
        "x-tif-nonce": nonce,
        "x-tif-signature": signature(timestamp, credentials.passtoken, nonce),
    }


class Verifier:
    """The gateway's check, with the nonces it has seen inside the window."""

    def __init__(self, passtokens: Mapping[str, str], window: int = WINDOW_SECONDS) -> None:
        self.passtokens, self.window = dict(passtokens), window
        self.seen: dict[str, float] = {}

    def refusal(self, headers: Mapping[str, str], now: float | None = None) -> str | None:
        """Why the request is refused, or None when it is signed right."""
        now = time.time() if now is None else now
        missing = [h for h in HEADERS if not headers.get(h)]
        if missing:
            return f"缺少网关签名头：{', '.join(missing)}"
        paasid, stamp, nonce, given = (headers[h] for h in HEADERS)
        passtoken = self.passtokens.get(paasid)
        if passtoken is None:
            return f"未知的 paasid：{paasid[:40]}"
        if not stamp.isascii() or not stamp.isdigit() or abs(now - int(stamp)) > self.window:
            return f"时间戳与网关时间相差超过 {self.window} 秒"
        if not hmac.compare_digest(given.lower().encode(), signature(stamp, passtoken, nonce).encode()):
            return "签名不正确"
        self._forget(now)
        if nonce in self.seen:
            return "nonce 已使用过（重放）"
        self.seen[nonce] = now
        return None

    def _forget(self, now: float) -> None:
        if len(self.seen) > 10_000:
            self.seen = {n: t for n, t in self.seen.items() if now - t <= self.window}
