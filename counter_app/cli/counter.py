"""The counter's own commands: `run` (the window) and `settle` (one claim, JSON in and out)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .common import (
    EXIT_BAD_INPUT,
    PAASID_HELP,
    credentials,
    open_db,
    settings_of,
)


def _cmd_settle(args: argparse.Namespace) -> int:
    from ..claims import settle_text
    from ..engine import ClaimError
    from ..engine.claim import MAX_CLAIM_CHARS

    limit = MAX_CLAIM_CHARS * 4 + 1  # bytes enough for the longest claim in UTF-8, and one more
    try:
        if args.claim == "-":
            raw = sys.stdin.buffer.read(limit)
        else:
            with open(args.claim, "rb") as f:
                raw = f.read(limit)
        text = raw.decode("utf-8")
    except OSError as exc:
        print(f"{args.claim}: cannot read the claim: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UnicodeDecodeError as exc:
        print(f"{args.claim}: the claim is not UTF-8 text (byte {exc.start})", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        settlement = settle_text(text)
    except ClaimError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EXIT_BAD_INPUT
    json.dump(settlement, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from ..services.demo import DEMO_INSTITUTION, create_demo
    from ..store.models import Person

    cfg = settings_of(args)
    no_display = _no_display()
    if no_display:  # said before anything is created: Qt would abort after the database was made
        print(no_display, file=sys.stderr)
        return EXIT_BAD_INPUT
    db = open_db(args, create=args.demo)
    for problem in db.server_problems():  # a shared PostgreSQL: said before the cashier signs in
        import logging

        logging.getLogger("counter_app.cli").warning("database: %s", problem)
        print(f"warning: {problem}", file=sys.stderr)
    if args.demo:
        with db.sessions() as s:
            empty = not s.scalar(select(func.count()).select_from(Person))
        if empty:
            counts = create_demo(db, args.persons, history_months=6)
            print(
                f"demo data: {counts['persons']} persons in {db.describe()}; sign in as c001 / 1234 "
                f"(supervisor s001 / 1234)"
            )
    from pathlib import Path

    from ..services.backup import Schedule, hold
    from ..ui.app import default_slip_dir, run

    held = hold(db)  # `restore` refuses while this counter runs  # noqa: F841 - kept open until exit
    backups = (
        Schedule(db, Path(cfg.backup_dir), cfg.backup_keep, cfg.backup_every_minutes)
        if cfg.backup_dir and db.is_sqlite
        else None
    )
    user = None
    if args.sign_in:  # unattended start (smoke tests, kiosks): the password from the environment
        from ..services.errors import ServiceError
        from ..services.staff import sign_in

        try:
            user = sign_in(
                db,
                args.sign_in,
                os.environ.get("COUNTER_APP_PASSWORD", ""),
                args.institution or cfg.institution or DEMO_INSTITUTION,
                args.counter or cfg.counter,
            )
        except ServiceError as exc:
            print(f"run --sign-in: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    smoke = None
    if args.smoke_visit:
        if user is None:
            print("run --smoke-visit: needs --sign-in (an unattended start)", file=sys.stderr)
            return EXIT_BAD_INPUT
        smoke = _smoke_visit(db, user)
    centre = args.centre or cfg.centre or None
    return run(
        db,
        args.institution or cfg.institution or DEMO_INSTITUTION,
        args.counter or cfg.counter,
        Path(args.slips) if args.slips else default_slip_dir(),
        args.printer or cfg.printer or None,
        centre=centre,
        credentials=credentials(args) if centre else None,
        sync_warn_minutes=args.sync_warn_minutes,
        centre_presettle=args.centre_presettle,
        customer_display=args.customer_display or cfg.customer_display,
        backups=backups,
        escpos=cfg.escpos,
        user=user,
        exit_when_ready=args.exit_when_ready,
        smoke_visit=smoke,
        slip_size=cfg.slip_size,
    )


def _no_display() -> str:
    """Why the window cannot open here (Linux without X or Wayland), or "" when it can."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return ""
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return ""
    return (
        "run: 没有图形显示（DISPLAY 和 WAYLAND_DISPLAY 都未设置），收费窗口无法打开；请在收费电脑的桌面上启动，"
        "或远程登录时开启图形转发。no display: start the counter on the desktop session "
        "(set QT_QPA_PLATFORM=offscreen only for unattended smoke tests). Nothing was created."
    )


def _smoke_visit(db, user) -> tuple[str, str]:
    """For `run --smoke-visit`: the cashier's shift (opened with no float if none is), an insured
    person with an account and an item of the price list to sell them."""
    from decimal import Decimal

    from sqlalchemy import select

    from ..services.errors import ServiceError
    from ..services.shift import open_shift
    from ..store.models import Account, CatalogueItem, Person

    try:
        open_shift(db, user, Decimal("0.00"))
    except ServiceError:
        pass  # already open
    with db.sessions() as s:
        certno = s.scalars(
            select(Person.certno).join(Account, Account.person_id == Person.id).order_by(Person.id).limit(1)
        ).one()
        code = s.scalars(select(CatalogueItem.code).order_by(CatalogueItem.id).limit(1)).one()
    return certno, code


def add_parsers(sub: Any, db_help: str) -> None:
    settle = sub.add_parser("settle", help="settle one claim (JSON) and print the settlement JSON")
    settle.add_argument("claim", help="claim file, or - for standard input")
    settle.set_defaults(run=_cmd_settle)
    run = sub.add_parser("run", help="start the counter application (the default command)")
    run.add_argument("--db", help=db_help)
    run.add_argument("--demo", action="store_true", help="fill an empty database with demo data first")
    run.add_argument("--persons", type=int, default=2000, help="demo population size with --demo")
    run.add_argument("--institution", help="this counter's institution code (default: the demo hospital)")
    run.add_argument(
        "--counter",
        help="this counter's name on slips and settlements (default: the settings file, else 门诊1)",
    )
    run.add_argument("--slips", help="folder for slip PDFs (default: user data folder)")
    run.add_argument("--printer", help="system printer for slips (default: PDF files only)")
    run.add_argument(
        "--centre",
        help="insurance centre URL: sync in the background while the app runs; inpatient settlements need it",
    )
    run.add_argument(
        "--customer-display",
        action="store_true",
        help="show the amount due, tendered and change on a second screen facing the patient",
    )
    run.add_argument(
        "--centre-presettle",
        action="store_true",
        help="F5 also asks the centre (2206) and shows a difference before the patient confirms "
        "(off by default: it adds round trips)",
    )
    run.add_argument(
        "--sync-warn-minutes",
        type=int,
        default=30,
        help="a message waiting longer than this for the centre turns the status bar red",
    )
    run.add_argument(
        "--paasid",
        help=PAASID_HELP,
    )
    run.add_argument(
        "--sign-in",
        metavar="STAFF",
        help="sign in as STAFF without the dialog, the password from "
        "$COUNTER_APP_PASSWORD (smoke tests, training kiosks)",
    )
    run.add_argument(
        "--smoke-visit",
        action="store_true",
        help="settle one visit through the window and write its slip, then quit (checks a bundle)",
    )
    run.add_argument(
        "--exit-when-ready",
        action="store_true",
        help="print 'scan-ready' with the time taken once the window waits for a scan, then exit "
        "(the bundle's smoke test)",
    )
    run.set_defaults(run=_cmd_run)
