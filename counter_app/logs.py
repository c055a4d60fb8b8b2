"""The counter's log: a rotating file in the platform's log folder, with context and without PII.

What is logged is built from numbers and codes (settlement numbers, staff numbers, amounts, message
ids). Errors shown to a cashier can carry a patient's name or ID number, so every line passes
through `Redact` on its way to the file: resident ID numbers are masked wherever they appear, and
so is the name of every person and staff member this process has loaded from the database (an ORM
load event registers them while logging is on). A test greps the log of a whole demo session for
every name and ID number in the database.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path

import platformdirs

LOG = logging.getLogger("counter_app")
_ID_NUMBER = re.compile(
    r"(?<![0-9])([1-9][0-9]{5})(?:19|20)[0-9]{2}[01][0-9][0-3][0-9][0-9]{3}([0-9Xx])(?![0-9])"
)
_MAX_NAMES = 200_000


def log_dir() -> Path:
    override = os.environ.get("COUNTER_APP_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir("counter_app", appauthor=False))


class Redact(logging.Filter):
    """Masks ID numbers and the registered names in the formatted message (and its traceback)."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.lock = threading.Lock()

    def register(self, *values: str | None) -> None:
        with self.lock:
            if len(self.names) < _MAX_NAMES:
                self.names.update(v for v in values if v and len(v) >= 2)

    def clean(self, text: str) -> str:
        text = _ID_NUMBER.sub(lambda m: f"{m.group(1)[:3]}***{m.group(2)}", text)
        with self.lock:
            names = [n for n in self.names if n in text]
        for name in sorted(names, key=len, reverse=True):
            text = text.replace(name, name[0] + "*" * (len(name) - 1))
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.clean(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self.clean(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True


REDACT = Redact()
_installed = False


def setup(folder: Path | None = None, *, level: int = logging.INFO) -> Path:
    """Log to `folder`/counter.log (rotating: 5 files of 2 MB); returns the file. Idempotent."""
    global _installed
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "counter.log"
    for handler in list(LOG.handlers):
        if getattr(handler, "counter_app", False):
            LOG.removeHandler(handler)
            handler.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    handler.counter_app = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"))
    handler.addFilter(REDACT)
    LOG.addHandler(handler)
    LOG.setLevel(level)
    if not _installed:
        _register_loaded_people()
        previous = sys.excepthook

        def unhandled(kind, value, tb) -> None:
            LOG.critical("unhandled error", exc_info=(kind, value, tb))
            previous(kind, value, tb)

        sys.excepthook = unhandled
        _installed = True
    return path


def _register_loaded_people() -> None:
    """Every person and staff member loaded from the database: their names and ID numbers are masked."""
    from sqlalchemy import event

    from .store.models import Person, Staff

    @event.listens_for(Person, "load", propagate=True)
    def _person(target, _context) -> None:
        REDACT.register(target.name, target.certno)

    @event.listens_for(Staff, "load", propagate=True)
    def _staff(target, _context) -> None:
        REDACT.register(target.name)
