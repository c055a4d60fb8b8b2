"""Background operations, the way Anki's CollectionOp works.

    Op(window, lambda: services.preview(...)).success(show_preview).run()

The function runs off the UI thread; `success` or `failure` runs back on the UI thread with its
result. Ops run one at a time, in the order started (a single-thread pool), so a scan is looked
up before the preview that follows it. While any op runs, the window shows a busy state. UI code
never runs inside the op.
"""

from __future__ import annotations

import traceback
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from .qt import QObject, QRunnable, QThreadPool, Signal, Slot

_pool: QThreadPool | None = None


class OpHost(Protocol):
    """What runs ops: told when work starts and ends, and shown a failure nobody else handles
    (the counter's desk, the agency desk)."""

    def set_busy(self, busy: bool) -> None: ...
    def show_error(self, exc: Exception) -> None: ...


_running: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # ops running, per host


def pool() -> QThreadPool:
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(1)
    return _pool


def shutdown() -> None:
    """Let running ops finish before Qt and Python tear down (else PySide may crash at exit)."""
    if _pool is not None:
        _pool.waitForDone()


class _Relay(QObject):
    """Lives on the UI thread; its own slots receive the worker's signals, so Qt queues the
    delivery to the UI thread (a plain Python callable as receiver has no thread to queue to)."""

    done = Signal(object)
    failed = Signal(object)

    def __init__(self, op: Op, parent: QObject | None) -> None:
        super().__init__(parent)  # dies with its window: a late result is then dropped, not delivered
        self.op = op
        self.done.connect(self.on_done)
        self.failed.connect(self.on_failed)

    @Slot(object)
    def on_done(self, result: Any) -> None:
        self.op._done(result)

    @Slot(object)
    def on_failed(self, exc: Exception) -> None:
        self.op._failed(exc)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.fn, self.relay = fn, relay

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # noqa: BLE001 - handed to the failure callback on the UI thread
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            signal, value = self.relay.failed, exc
        else:
            signal, value = self.relay.done, result
        try:
            signal.emit(value)
        except RuntimeError:
            pass  # the window closed while this ran: nobody is left to tell


class Op:
    """One background call; its host is told when work starts and ends through `set_busy(bool)`,
    counted per host, and shows errors through `show_error` by default."""

    def __init__(self, host: OpHost, fn: Callable[[], Any]) -> None:
        self.host, self.fn = host, fn
        self._success: Callable[[Any], None] = lambda _: None
        self._failure: Callable[[Exception], None] | None = None
        self._keep: Op | None = None
        self.relay = _Relay(self, host if isinstance(host, QObject) else None)

    def success(self, callback: Callable[[Any], None]) -> Op:
        self._success = callback
        return self

    def failure(self, callback: Callable[[Exception], None]) -> Op:
        self._failure = callback
        return self

    def _count(self, step: int) -> None:
        running = _running.get(self.host, 0) + step
        _running[self.host] = running
        self.host.set_busy(running > 0)

    def _finish(self) -> None:
        self._count(-1)

    def _done(self, result: Any) -> None:
        self._keep = None
        self._finish()
        self._success(result)

    def _failed(self, exc: Exception) -> None:
        self._keep = None
        self._finish()
        if self._failure is not None:
            self._failure(exc)
        else:
            self.host.show_error(exc)

    def run(self) -> Op:
        self._count(+1)
        self._keep = self  # alive until the relay fires
        pool().start(_Job(self.fn, self.relay))
        return self
