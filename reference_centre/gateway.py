"""The gateway's side of the signed headers: what a real gateway checks before a message reaches
the centre (the counter only signs, `counter_app.sync.gateway`)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

from counter_app.sync.gateway import HEADERS, WINDOW_SECONDS, signature


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
