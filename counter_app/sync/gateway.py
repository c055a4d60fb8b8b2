"""The provincial gateway's signed headers ("tif"), made by the counter and checked by the
reference centre (national-interface.md, "HTTP gateway headers").

Every request carries `x-tif-paasid`, `x-tif-timestamp` (Unix seconds), `x-tif-nonce` (fresh per
request) and `x-tif-signature` = lower-case hex SHA-256 of timestamp + passtoken + nonce +
timestamp. The passtoken itself never travels. A gateway refuses a missing or wrong signature, a
timestamp too far off (5 minutes here; the real window is the gateway's) and a nonce seen before.
"""

from __future__ import annotations

import hashlib
import secrets
import time
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
