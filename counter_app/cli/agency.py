"""The agency's batches: `credit`, `interest`, `declaration`, `monitor`, and `certify` of a candidate pack."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from .common import (
    Bar,
    open_db,
    run_batch,
    sign_in_by,
)


def _month_arg(text: str | None) -> dt.date:
    """YYYY-MM, or the last full month when not given (what an agency runs in the new month)."""
    from ..engine.crediting import parse_period, previous_month

    if text is None:
        return previous_month(dt.date.today())
    return parse_period(text)


def _batch_by(parser: argparse.ArgumentParser) -> None:
    """The --by of an agency batch: who runs it, signed in for the run."""
    parser.add_argument(
        "--by",
        required=True,
        help="who runs it: a staff number allowed to run batches; the password from "
        "$COUNTER_APP_PASSWORD or asked for",
    )


def _cmd_credit(args: argparse.Namespace) -> int:
    from ..batch.crediting import credit_month

    def run() -> int:
        month = _month_arg(args.month)
        db = open_db(args)
        actor, bar = sign_in_by(args, db), Bar("crediting", "account")
        try:
            print(credit_month(db, actor, month, policy=args.policy, progress=bar).describe())
        finally:
            bar.close()
        return 0

    return run_batch(run)


def _cmd_interest(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..batch.interest import post_interest

    def run() -> int:
        year = args.year if args.year is not None else dt.date.today().year - 1
        db = open_db(args)
        actor, bar = sign_in_by(args, db), Bar("interest", "account")
        try:
            print(post_interest(db, actor, year, progress=bar).describe())
        finally:
            bar.close()
        return 0

    return run_batch(run)


def _cmd_declaration(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..batch.declaration import monthly_declaration, write_csv
    from ..printing.agency_reports import declaration_pdf
    from ..services.demo import DEMO_INSTITUTION

    def run() -> int:
        db = open_db(args)
        decl = monthly_declaration(
            db, sign_in_by(args, db), args.institution or DEMO_INSTITUTION, _month_arg(args.month)
        )
        out = Path(args.out)
        summary, detail = write_csv(decl, out)
        pdf = out / f"declaration-{decl.institution_code}-{decl.period}.pdf"
        pdf.write_bytes(declaration_pdf(decl))
        t = decl.total
        print(
            f"{decl.institution_code} {decl.period}: {decl.settled.count} settlements, {decl.refunded.count} "
            f"refunds, net {t.count}; fund {t.fund}, own accounts "
            f"{t.own_account}, family accounts {t.family_account}; ledger "
            f"{'ties' if decl.ties else 'DOES NOT TIE'}\n  {summary}\n  {detail}\n  {pdf}"
        )
        return 0 if decl.ties else 4

    return run_batch(run)


def _cmd_certify(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from ..batch.certify import certify
    from ..policies import load_pack, load_pack_file

    outcome = {"changed": False}

    def run() -> int:
        try:
            start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        except ValueError:
            raise ValueError(f"--from/--to: not a date YYYY-MM-DD: {args.start!r} {args.end!r}") from None
        given = Path(args.pack)
        pack = load_pack_file(given) if given.suffix == ".toml" or given.exists() else load_pack(args.pack)
        db = open_db(args)
        report = certify(db, sign_in_by(args, db), pack, start, end)
        print(report.describe())
        outcome["changed"] = not report.unchanged
        return 0

    code = run_batch(run)
    return 1 if code == 0 and outcome["changed"] else code


def _cmd_monitor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..batch.monitoring import INDICATOR_LABELS, monitor_month
    from ..printing.agency_reports import monitoring_pdf

    def run() -> int:
        db = open_db(args)
        report = monitor_month(db, sign_in_by(args, db), _month_arg(args.month))
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        pdf = out / f"monitoring-{report.period}.pdf"
        pdf.write_bytes(monitoring_pdf(report))
        print(f"monitoring {report.period}: {len(report.anomalies)} anomalies")
        for o in report.over_limit:
            print(
                f"  over the limit ({o.rule}, {o.policy}): {o.psn_no} {o.name}: {o.relation} {o.count} > {o.limit}"
            )
        for rule, indicator, needs in report.not_measured:
            print(f"  not measured ({rule}): {indicator}: {needs}")
        for a in report.anomalies:
            print(
                f"  {a.rule} {INDICATOR_LABELS[a.indicator]} {a.institution_code} {a.institution_name}: "
                f"{a.value} (threshold {a.threshold}); {a.detail}"
            )
        print(f"  {pdf}")
        return 0

    return run_batch(run)


def add_parsers(sub: Any, db_help: str) -> None:
    month_help = "YYYY-MM (default: the last full month)"
    credit = sub.add_parser("credit", help="monthly crediting of personal accounts (WH-6, WH-7)")
    credit.add_argument("--month", help=month_help)
    credit.add_argument("--policy", default="wuhu-2022", help="policy pack with the crediting rules")
    _batch_by(credit)
    credit.add_argument("--db", help=db_help)
    credit.set_defaults(run=_cmd_credit)

    interest = sub.add_parser("interest", help="post a year's interest on personal accounts (WH-11)")
    interest.add_argument("--year", type=int, help="the year to post (default: last year)")
    _batch_by(interest)
    interest.add_argument("--db", help=db_help)
    interest.set_defaults(run=_cmd_interest)

    decl = sub.add_parser("declaration", help="an institution's monthly declaration as CSV and PDF (WH-28)")
    decl.add_argument("--month", help=month_help)
    decl.add_argument("--institution", help="institution code (default: the demo hospital)")
    decl.add_argument("--out", default=".", help="folder for the CSV and PDF files")
    decl.add_argument("--db", help=db_help)
    _batch_by(decl)
    decl.set_defaults(run=_cmd_declaration)

    monitor = sub.add_parser(
        "monitor", help="fund monitoring of a month: anomalies and a PDF with charts (WH-31)"
    )
    monitor.add_argument("--month", help=month_help)
    monitor.add_argument("--out", default=".", help="folder for the PDF")
    monitor.add_argument("--db", help=db_help)
    _batch_by(monitor)
    monitor.set_defaults(run=_cmd_monitor)

    cert = sub.add_parser(
        "certify",
        help="replay the stored settlements of a period through a candidate policy pack and list "
        "every one whose split would change (exit 0: none, 1: some, 2: bad input)",
    )
    cert.add_argument("pack", help="the candidate pack: a .toml file, or a shipped pack's id")
    cert.add_argument("--from", dest="start", required=True, help="first settlement day, YYYY-MM-DD")
    cert.add_argument("--to", dest="end", required=True, help="last settlement day, YYYY-MM-DD")
    cert.add_argument("--db", help=db_help)
    _batch_by(cert)
    cert.set_defaults(run=_cmd_certify)
