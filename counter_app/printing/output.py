"""Keeping every printed slip as a PDF file, and logging each print (reprints are numbered)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..services.actor import Actor
from ..store import Database
from . import pdf
from .slip import Slip, load_slip, print_permission, record_print


def save_pdf(
    db: Database,
    actor: Actor,
    setl_no: str,
    folder: Path,
    layout: str = "thermal80",
    *,
    now: dt.datetime | None = None,
) -> tuple[Path, Slip]:
    """Render the next copy of a slip to `folder/<slip_no>.pdf` and log it; returns the file and slip.

    The file is written whole or not at all (temporary name, then rename), and the print is
    logged only after the file exists, so a failure leaves the next attempt the same copy number.
    """
    slip = load_slip(db, setl_no)
    copy = int(slip.slip_no.rsplit("-", 1)[1])
    actor.require(print_permission(copy))  # before anything is rendered or written
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{slip.slip_no}.pdf"
    partial = target.with_suffix(".part")
    partial.write_bytes(pdf.render(slip, layout))
    partial.replace(target)
    record_print(db, actor, setl_no, copy, str(target), now=now)
    return target, slip
