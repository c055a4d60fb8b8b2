"""The audit chain's key: a secret kept outside the database, so that a person who can only edit
the database cannot recompute the chain after changing a row (issue 26).

The key is a file of 64 hex digits, readable only by its owner: `$COUNTER_APP_AUDIT_KEY` names it,
else it is `audit.key` in the platform's config folder. It is made when a database is first
stamped (migration 0013: the install's first start or `db upgrade`); every counter that shares a
PostgreSQL database needs a copy of the same file (README, "Trust and safety"). The database keeps
only an HMAC of its identity under the key, so a counter with a wrong or missing key is told at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import platformdirs

ENV = "COUNTER_APP_AUDIT_KEY"


class AuditKeyError(RuntimeError):
    """The key file is there but unreadable or malformed: the message names it."""


def key_path() -> Path:
    override = os.environ.get(ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir("counter_app", appauthor=False)) / "audit.key"


_cache: dict[str, tuple[float, bytes]] = {}


def current() -> bytes | None:
    """This machine's key, or None when there is no key file."""
    path = key_path()
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    held = _cache.get(str(path))
    if held and held[0] == mtime:
        return held[1]
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise AuditKeyError(f"the audit key file {path} does not hold a key (64 hex digits)")
    _cache[str(path)] = (mtime, key)
    return key


def ensure() -> bytes:
    """The key, made now (readable by its owner only) if this machine has none."""
    key = current()
    if key is not None:
        return key
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it a moment ago
        return current() or b""
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_hex(32) + "\n")
    key = current()
    assert key is not None
    return key


def mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def key_check(key: bytes, identity: str, keyed_from: int) -> str:
    """What the database stores to tell its key from another: an HMAC of who it is and since when."""
    return mac(key, f"counter_app audit key|{identity}|{keyed_from}".encode())
