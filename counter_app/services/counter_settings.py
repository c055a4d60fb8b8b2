"""A supervisor changes this counter's settings (config.py): checked, written, and audited."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import fields
from pathlib import Path

from .. import config
from ..store import Database
from .actor import Actor
from .audit import record

log = logging.getLogger(__name__)


def change(
    db: Database,
    ctx: Actor,
    new: config.Settings,
    *,
    path: Path | None = None,
    now: dt.datetime | None = None,
) -> dict[str, tuple[str, str]]:
    """Store `new` as this counter's settings; returns what changed (key -> (old, new), as shown,
    secrets masked), which is also what the audit entry records. Needs the `settings` permission."""
    ctx.require("settings")
    old = config.load(path)
    changed = {
        f.name: (config.shown(f.name, getattr(old, f.name)), config.shown(f.name, getattr(new, f.name)))
        for f in fields(config.Settings)
        if getattr(old, f.name) != getattr(new, f.name)
    }
    if not changed:
        return {}
    with db.transaction() as session:
        record(
            session,
            ctx,
            "settings",
            ctx.counter,
            at=now or dt.datetime.now(),
            before={k: v[0] for k, v in changed.items()},
            after={k: v[1] for k, v in changed.items()},
        )
        config.save(
            new, path
        )  # inside the transaction: if the file cannot be written, no audit entry says it was
    log.info("settings changed at %s by %s: %s", ctx.counter, ctx.staff_no, ", ".join(sorted(changed)))
    return changed
