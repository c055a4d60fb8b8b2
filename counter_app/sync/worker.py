"""The background sync worker the application runs: drain, wait, drain again, until stopped."""

from __future__ import annotations

import logging
import threading

from ..store import Database
from .client import CentreClient
from .gateway import Credentials
from .outbox import IN_FLIGHT, DrainReport, drain

log = logging.getLogger(__name__)


class SyncWorker(threading.Thread):
    def __init__(
        self,
        db: Database,
        centre_url: str,
        *,
        credentials: Credentials | None = None,
        idle_seconds: float = 2.0,
    ) -> None:
        super().__init__(name="counter-sync", daemon=True)
        self.db, self.centre_url, self.idle_seconds = db, centre_url, idle_seconds
        self.credentials = credentials
        self.stopping = threading.Event()
        self.last: DrainReport | None = None

    def run(self) -> None:
        client = CentreClient(self.centre_url, credentials=self.credentials)
        try:
            while not self.stopping.is_set():
                try:
                    self.last = drain(self.db, client, in_flight=IN_FLIGHT)
                    if self.last.sent or self.last.parked or self.last.errors:
                        log.info(
                            "sync: sent %d, parked %d, to retry %d%s",
                            self.last.sent,
                            self.last.parked,
                            self.last.retried,
                            f"; last error: {self.last.errors[-1]}" if self.last.errors else "",
                        )
                except Exception:
                    log.exception("sync drain failed")
                    self.last = None
                if not self.last or not self.last.sent:
                    self.stopping.wait(self.idle_seconds)
        finally:
            client.close()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)
