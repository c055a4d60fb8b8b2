"""Talking to the insurance centre from the command line: `sync` (the outbox) and `reconcile` (3201)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import (
    DEFAULT_CENTRE,
    EXIT_BAD_INPUT,
    Bar,
    add_centre_arguments,
    centre_down,
    credentials,
    open_db,
    settings_of,
)


def _cmd_sync(args: argparse.Namespace) -> int:
    import time

    from ..sync.client import CentreClient
    from ..sync.outbox import IN_FLIGHT, drain, unsent

    db = open_db(args)
    if args.parked:
        return _list_parked(db)
    client = CentreClient(
        args.centre or settings_of(args).centre or DEFAULT_CENTRE, credentials=credentials(args)
    )
    try:
        while True:
            bar = Bar("sending", "message", total=len(unsent(db)))
            try:
                report = drain(db, client, progress=bar, in_flight=IN_FLIGHT)
            finally:
                bar.close()
            left = unsent(db)
            parked = sum(1 for m in left if m.status == "parked")
            print(
                f"sent {report.sent}, parked {report.parked}, to retry {report.retried}; "
                f"waiting: {len(left) - parked} pending, {parked} parked"
                + (f" (last error: {report.errors[-1]})" if report.errors else ""),
                flush=True,
            )
            if args.once:
                return 0 if not report.errors else 3
            time.sleep(args.every)
    finally:
        client.close()


def _list_parked(db) -> int:
    """Every parked message with the centre's reason and its age; exit 0 when there is none."""
    import datetime as dt

    from ..services.sync_status import unsent

    now = dt.datetime.now()
    parked = unsent(db, "parked")
    for m in parked:
        age = m.age(now)
        print(
            f"{m.msgid} {m.infno} {m.setl_no} {m.psn_no} age {age.days}d {age.seconds // 3600}h "
            f"{age.seconds % 3600 // 60}m attempts {m.attempts}: {m.last_error}"
        )
    print(f"{len(parked)} parked")
    return 0 if not parked else 5


def _cmd_reconcile(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..services.demo import DEMO_INSTITUTION
    from ..sync.client import CentreClient, Rejected, Transient
    from ..sync.reconcile import describe, reconcile_day

    db = open_db(args)
    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
    except ValueError:
        print(f"--date: not a date YYYY-MM-DD: {args.date!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    cfg = settings_of(args)
    client = CentreClient(args.centre or cfg.centre or DEFAULT_CENTRE, credentials=credentials(args))
    try:
        report = reconcile_day(db, client, args.institution or cfg.institution or DEMO_INSTITUTION, day)
    except (Transient, Rejected, OSError) as exc:
        return centre_down("reconcile", exc)
    finally:
        client.close()
    print(describe(report))
    return 0 if report.ties else 4


def add_parsers(sub: Any, db_help: str) -> None:
    sync = sub.add_parser("sync", help="send queued settlements and refunds to the centre")
    add_centre_arguments(sync)
    sync.add_argument("--db", help=db_help)
    sync.add_argument("--once", action="store_true", help="drain what is due once and exit")
    sync.add_argument("--every", type=float, default=5.0, help="seconds between drains")
    sync.add_argument(
        "--parked",
        action="store_true",
        help="list the parked messages with the centre's reason and their age, then exit",
    )
    sync.set_defaults(run=_cmd_sync)

    rec = sub.add_parser("reconcile", help="3201 reconciliation of one day with the centre")
    add_centre_arguments(rec)
    rec.add_argument("--db", help=db_help)
    rec.add_argument("--date", help="YYYY-MM-DD (default: today)")
    rec.add_argument("--institution", help="institution code (default: the demo hospital)")
    rec.set_defaults(run=_cmd_reconcile)
