"""The counter's HTTP client of the insurance centre: one envelope in, one checked answer out.

A failure is one of:
- transient (no connection, a timeout, the overall deadline passed, a dropped reply, a 5xx, a
  reply that is not JSON at all): try again later with the same msgid;
- a rejection (the centre answered and `infcode` is not 0): it will never accept this message as
  it is, so it is parked for a supervisor with the centre's reason;
- a bad answer (`infcode` 0, but the answer cannot be recorded: not an object, a field missing or
  of the wrong type, another patient's ids, amounts that do not add up): parked as well, with the
  reason, since the centre may have acted on it (answers.py).

Every request has an overall deadline covering connect, send and the whole answer, so a centre
that drips its reply costs a bounded time.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from typing import Any

import httpx

from . import answers, wire
from . import fields as F
from .gateway import Credentials, sign

MAX_ANSWER_BYTES = 8 * 1024 * 1024  # a catalogue file comes by 9102, never as a settlement answer


class Transient(Exception):
    """Could not get an answer; the same message may be sent again."""


class Rejected(Exception):
    """The centre answered and said no; `response` is its answer."""

    kind = "中心拒绝"

    def __init__(self, message: str, response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.response = response or {}


class BadAnswer(Rejected):
    """The centre said yes, but its answer cannot be recorded; `response` is what it sent."""

    kind = "中心应答无效"


class CentreClient:
    """Signs every request with the counter's gateway credentials (gateway.py); without them the
    requests go unsigned and a real gateway, like the reference centre, refuses them."""

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        timeout: float = 10.0,
        deadline: float = 30.0,
        profile: str = "national",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.profile = profile  # hefei_names: which names the centre answers in
        self.deadline = deadline
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            limits=httpx.Limits(max_keepalive_connections=4),
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="centre-request")
        self._closed = threading.Event()

    def send(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The centre's checked answer to one message; raises Transient, Rejected or BadAnswer."""
        body = self._exchange(envelope)
        if not answers.succeeded(body):
            raise Rejected(answers.reason(body), body)
        try:
            answers.check(str(envelope.get("infno")), envelope.get("input"), body, profile=self.profile)
        except answers.AnswerError as exc:
            raise BadAnswer(str(exc), body) from None
        return body

    def download(self, envelope: dict[str, Any]) -> bytes:
        """9102: the file itself (zebone: the answer is the zip, not JSON). An answer that is JSON
        is the centre saying why not (Rejected), or a success with no file (BadAnswer)."""
        content = self._content(envelope)
        if content.startswith(b"PK"):
            return content
        body = self._parse(content)
        if not answers.succeeded(body):
            raise Rejected(answers.reason(body), body)
        raise BadAnswer("文件下载的应答不是文件", body)

    def _content(self, envelope: dict[str, Any]) -> bytes:
        """The answer's bytes, within the overall deadline."""
        started = time.monotonic()
        future = self._pool.submit(self._post, envelope, started)
        try:
            status, content, reason = future.result(timeout=self.deadline + 1.0)
        except concurrent.futures.TimeoutError:
            raise Transient(f"医保中心 {self.deadline:.0f} 秒内未完成应答") from None
        if status >= 500:
            raise Transient(f"HTTP {status}")
        if status in (401, 403):  # the gateway refused the signature: stays queued, said plainly
            raise Transient(f"网关拒绝（HTTP {status}）：{reason}")
        if status != 200:
            raise Transient(f"HTTP {status} from {self.base_url}")
        return content

    def _exchange(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The answer as a JSON object, within the overall deadline."""
        return self._parse(self._content(envelope))

    def _parse(self, content: bytes) -> dict[str, Any]:
        try:
            body = wire.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:  # a proxy's page, a cut-off reply
            raise Transient(f"应答不是 JSON：{content[:80]!r}") from exc
        except RecursionError:
            raise BadAnswer("应答嵌套过深，无法读取", {}) from None
        if not isinstance(body, dict):
            raise BadAnswer(f"应答应为 JSON 对象，收到 {type(body).__name__}", {})
        return body

    def _post(self, envelope: dict[str, Any], started: float) -> tuple[int, bytes, str]:
        """(status, body, the gateway's reason on a 401/403), read as it arrives and given up when the
        deadline passes (the caller has stopped waiting by then)."""
        try:
            headers = sign(self.credentials) if self.credentials else {}
            headers["content-type"] = "application/json"
            with self.http.stream("POST", F.API_PATH, content=wire.dumps(envelope), headers=headers) as reply:
                chunks, size = [], 0
                for chunk in reply.iter_bytes():
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise Transient(f"应答超过 {MAX_ANSWER_BYTES // 1024 // 1024} MB")
                    if time.monotonic() - started > self.deadline:
                        raise Transient(f"医保中心 {self.deadline:.0f} 秒内未完成应答")
                    chunks.append(chunk)
                content = b"".join(chunks)
        except httpx.TransportError as exc:  # refused, timed out, reply dropped mid-way
            raise Transient(f"{type(exc).__name__}: {exc}") from exc
        reason = ""
        if reply.status_code in (401, 403):
            try:
                parsed = wire.loads(content)
                reason = str(parsed.get("err_msg", "") if isinstance(parsed, dict) else parsed)[:200]
            except (ValueError, RecursionError):
                reason = content[:200].decode("utf-8", "replace")
        return reply.status_code, content, reason

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()
