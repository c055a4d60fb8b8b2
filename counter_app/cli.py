"""`counter-app` (and `python -m counter_app`): the command line.

Exit codes: 0 done; 2 bad input, one line per problem on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import datetime as dt

from .engine import ClaimError

EXIT_BAD_INPUT = 2
DEFAULT_CENTRE = "http://127.0.0.1:8765"  # the reference centre, for training


def _credentials(args: argparse.Namespace):
    """The counter's gateway credentials: --paasid (or $COUNTER_APP_PAASID, or the settings file)
    with the passtoken in $COUNTER_APP_PASSTOKEN (or the settings file); with neither, the reference
    centre's training pair."""
    from .sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials

    cfg = _settings(args)
    paasid = getattr(args, "paasid", None) or os.environ.get("COUNTER_APP_PAASID") or cfg.paasid
    passtoken = os.environ.get("COUNTER_APP_PASSTOKEN") or cfg.passtoken
    if paasid and passtoken:
        return Credentials(paasid, passtoken)
    if paasid or passtoken:
        print("gateway: give both the paasid and $COUNTER_APP_PASSTOKEN", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    return Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)


def _cmd_settle(args: argparse.Namespace) -> int:
    from .claims import settle_text
    from .engine.claim import MAX_CLAIM_CHARS

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


def _settings(args: argparse.Namespace):
    """The counter's settings file (config.py), read once per command (kept on `args`); a broken
    file is one clear line and exit 2."""
    from .config import ConfigError, load

    if getattr(args, "settings", None) is None:
        try:
            args.settings = load()
        except ConfigError as exc:
            print(f"settings: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None
    return args.settings


def _open_db(args: argparse.Namespace, *, create: bool = False):
    """The database of --db, else of the settings file, else the default SQLite file. Only the
    commands that make a database (`db upgrade`, `demo-data`, the first start) pass `create`:
    elsewhere a SQLite file that is not there is an error, not a new empty database."""
    from .store import Database, DatabaseError

    cfg = _settings(args)  # read first: a broken settings file is said even when --db is given
    url = getattr(args, "db", None) or cfg.database or None
    first_start = url is None and getattr(args, "command", None) == "run"  # a fresh install's default file
    try:
        db = Database(url, create=create or first_start)
    except DatabaseError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None
    if db.is_sqlite and db.url.database not in (None, "", ":memory:"):
        from .services.backup import hold

        args.held_database = hold(db)  # `restore` refuses while sync, a batch or any command runs
    return db


class _Bar:
    """A progress bar on stderr (tqdm; quiet when stderr is not a terminal): `bar(done)` with the
    count so far, or `bar(done, total)` once the total is known."""

    def __init__(self, what: str, unit: str, total: int | None = None) -> None:
        from tqdm import tqdm

        self.bar = tqdm(desc=what, unit=unit, total=total, file=sys.stderr, disable=None, leave=False)

    def __call__(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        self.bar.close()


def _centre_down(what: str, exc: Exception) -> int:
    """One line instead of a traceback when the centre cannot be reached or answers garbage."""
    import logging

    logging.getLogger("counter_app.cli").warning("%s: centre unreachable: %r", what, exc)
    print(
        f"{what}: the insurance centre did not answer ({type(exc).__name__}: {str(exc)[:200]}); "
        "nothing was changed — try again when it is reachable",
        file=sys.stderr,
    )
    return 3


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    db = _open_db(args, create=True)  # opening upgrades
    print(f"{db.describe()}: schema at revision {db.current_revision()}")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from .services.demo import create_demo

    db = _open_db(args, create=True)
    bar = _Bar("demo data", "step")
    try:
        counts = create_demo(
            db, args.persons, seed=args.seed, history_months=args.history_months, progress=bar
        )
    except ValueError as exc:
        print(f"demo-data: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        bar.close()
    print(
        f"{db.describe()}: {counts['persons']} persons, {counts['accounts']} accounts, "
        f"{counts['bindings']} family bindings, {counts.get('settlements', 0)} settlements of history"
    )
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from sqlalchemy import func, select

    from .services.demo import DEMO_INSTITUTION, create_demo
    from .store.models import Person

    cfg = _settings(args)
    no_display = _no_display()
    if no_display:  # said before anything is created: Qt would abort after the database was made
        print(no_display, file=sys.stderr)
        return EXIT_BAD_INPUT
    db = _open_db(args, create=args.demo)
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

    from .services.backup import Schedule, hold
    from .ui.app import default_slip_dir, run

    held = hold(db)  # `restore` refuses while this counter runs  # noqa: F841 - kept open until exit
    backups = (
        Schedule(db, Path(cfg.backup_dir), cfg.backup_keep, cfg.backup_every_minutes)
        if cfg.backup_dir and db.is_sqlite
        else None
    )
    user = None
    if args.sign_in:  # unattended start (smoke tests, kiosks): the password from the environment
        from .services.errors import ServiceError
        from .services.staff import sign_in

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
        credentials=_credentials(args) if centre else None,
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

    from .services.errors import ServiceError
    from .services.shift import open_shift
    from .store.models import Account, CatalogueItem, Person

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


def _cmd_centre(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .sync.centre import serve
    from .sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN

    passtoken = os.environ.get("COUNTER_APP_CENTRE_PASSTOKEN")
    passtokens = {TRAINING_PAASID: TRAINING_PASSTOKEN}
    if args.paasid:
        if not passtoken:
            print("centre: --paasid needs its passtoken in $COUNTER_APP_CENTRE_PASSTOKEN", file=sys.stderr)
            return EXIT_BAD_INPUT
        passtokens = {args.paasid: passtoken}
    policies = Path(args.policies) if args.policies else None
    registry = Path(args.registry) if args.registry else None
    if registry is not None and "://" in args.registry:
        print(
            "centre: --registry takes a registry file, not a database (a centre keeps its own registry; "
            "`counter-app registry-export FILE` writes one from a counter's demo database)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    if registry is not None:
        from .registry_file import RegistryError, load

        try:
            load(registry)
        except RegistryError as exc:
            print(f"centre: --registry: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    population = None
    if args.bindings and not args.population:
        print("centre: --bindings needs --population (the persons the bindings name)", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.population:
        from .services import population as population_file
        from .services.table_file import FileRefused

        population = (Path(args.population), Path(args.bindings) if args.bindings else None)
        try:  # checked before the centre starts, as --registry is
            population_file.read_persons(population[0])
            if population[1] is not None:
                population_file.read_bindings(population[1])
        except FileRefused as exc:
            print(f"centre: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    if policies is not None and not policies.is_dir():
        print(f"centre: --policies: no folder {policies}", file=sys.stderr)
        return EXIT_BAD_INPUT
    catalogues = Path(args.catalogues) if args.catalogues else None
    if catalogues is not None and not catalogues.is_dir():
        print(f"centre: --catalogues: no folder {catalogues}", file=sys.stderr)
        return EXIT_BAD_INPUT
    serve(
        args.host,
        args.port,
        Path(args.centre_db),
        admin_port=args.admin_port,
        admin_token=args.admin_token or os.environ.get("COUNTER_APP_CENTRE_ADMIN_TOKEN"),
        passtokens=passtokens,
        registry=registry,
        population=population,
        catalogues=catalogues,
        policies=policies,
        profile=args.profile,
        record=Path(args.record) if args.record else None,
        inpatient=Path(args.inpatient) if args.inpatient else None,
        demo_history=args.demo,
        text_codes=args.infcode == "text",
    )
    return 0


def _cmd_registry_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .registry_file import dump
    from .services.registry_export import export

    db = _open_db(args)
    data = export(db)
    dump(data, Path(args.file))
    print(
        f"registry: {len(data['persons'])} persons, {len(data['bindings'])} bindings, "
        f"{len(data['institutions'])} institutions written to {args.file}"
    )
    return 0


def _cmd_sync(args: argparse.Namespace) -> int:
    import time

    from .sync.client import CentreClient
    from .sync.outbox import IN_FLIGHT, drain, unsent

    db = _open_db(args)
    if args.parked:
        return _list_parked(db)
    client = CentreClient(
        args.centre or _settings(args).centre or DEFAULT_CENTRE, credentials=_credentials(args)
    )
    try:
        while True:
            bar = _Bar("sending", "message", total=len(unsent(db)))
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

    from .services.sync_status import unsent

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


def _anchor_arg(text: str | None):
    """--anchor ID:HASH as printed on a shift report or day close, or a backup's record file."""
    import json
    from pathlib import Path

    from .store.audit import parse_anchor

    if not text:
        return None
    path = Path(text)
    if path.suffix == ".json" and path.is_file():
        text = json.loads(path.read_text(encoding="utf-8")).get("audit_head") or ""
    try:
        return parse_anchor(text)
    except ValueError as exc:
        print(f"--anchor: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None


def _cmd_audit_verify(args: argparse.Namespace) -> int:
    from .services.audit import check_books
    from .store.audit import head

    anchor = _anchor_arg(args.anchor)
    db = _open_db(args)
    with db.sessions() as session:
        problems = check_books(session, anchor=anchor)
        entries = (head(session) or (0, ""))[0]
    if not problems:
        print(
            f"audit chain holds: {entries} entries, every money row, binding, staff row, outbox message "
            "and catalogue covered, every balance its ledger's"
            + (f", entry {anchor[0]} as anchored" if anchor else "")
        )
        return 0
    first = problems[0]
    where = f"entry {first.entry_id}" if first.entry_id is not None else "money rows"
    print(f"audit chain BROKEN at {where}: {first.what}", file=sys.stderr)
    for p in problems[1:20]:
        print(
            f"  also {'entry ' + str(p.entry_id) if p.entry_id is not None else 'rows'}: {p.what}",
            file=sys.stderr,
        )
    if len(problems) > 20:
        print(f"  … {len(problems) - 20} more", file=sys.stderr)
    return 1


def _cmd_reconcile(args: argparse.Namespace) -> int:
    import datetime as dt

    from .services.demo import DEMO_INSTITUTION
    from .sync.client import CentreClient, Rejected, Transient
    from .sync.reconcile import describe, reconcile_day

    db = _open_db(args)
    try:
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
    except ValueError:
        print(f"--date: not a date YYYY-MM-DD: {args.date!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    cfg = _settings(args)
    client = CentreClient(args.centre or cfg.centre or DEFAULT_CENTRE, credentials=_credentials(args))
    try:
        report = reconcile_day(db, client, args.institution or cfg.institution or DEMO_INSTITUTION, day)
    except (Transient, Rejected, OSError) as exc:
        return _centre_down("reconcile", exc)
    finally:
        client.close()
    print(describe(report))
    return 0 if report.ties else 4


def _month_arg(text: str | None) -> dt.date:
    """YYYY-MM, or the last full month when not given (what an agency runs in the new month)."""
    import datetime as dt

    from .engine.crediting import parse_period, previous_month

    if text is None:
        return previous_month(dt.date.today())
    return parse_period(text)


def _sign_in(args: argparse.Namespace, db):
    """The actor for a command run by hand: --by STAFF, the password from $COUNTER_APP_PASSWORD or
    asked for, at --institution, else the settings' institution, else the demo hospital. A batch
    runs with that person's permissions and is audited under their name."""
    import getpass

    from .services.demo import DEMO_INSTITUTION
    from .services.staff import sign_in

    password = os.environ.get("COUNTER_APP_PASSWORD")
    if password is None:
        password = (
            getpass.getpass(f"{args.by} 的密码：")
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\n")
        )
    institution = getattr(args, "institution", None) or _settings(args).institution or DEMO_INSTITUTION
    return sign_in(db, args.by, password, institution, "命令行")


def _batch(run) -> int:
    """Run an agency batch; a refusal (BatchError, bad month, policy or rates, sign-in or
    permission) is one line and exit 2."""
    from .batch.runs import BatchError
    from .engine.interest import RatesError
    from .engine.policy import PackError
    from .services.errors import ServiceError

    try:
        return run()
    except (BatchError, PackError, RatesError, ValueError, ServiceError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT


def _cmd_credit(args: argparse.Namespace) -> int:
    from .batch.crediting import credit_month

    def run() -> int:
        month = _month_arg(args.month)
        db = _open_db(args)
        actor, bar = _sign_in(args, db), _Bar("crediting", "account")
        try:
            print(credit_month(db, actor, month, policy=args.policy, progress=bar).describe())
        finally:
            bar.close()
        return 0

    return _batch(run)


def _cmd_interest(args: argparse.Namespace) -> int:
    import datetime as dt

    from .batch.interest import post_interest

    def run() -> int:
        year = args.year if args.year is not None else dt.date.today().year - 1
        db = _open_db(args)
        actor, bar = _sign_in(args, db), _Bar("interest", "account")
        try:
            print(post_interest(db, actor, year, progress=bar).describe())
        finally:
            bar.close()
        return 0

    return _batch(run)


def _cmd_declaration(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .batch.declaration import monthly_declaration, write_csv
    from .printing.agency_reports import declaration_pdf
    from .services.demo import DEMO_INSTITUTION

    def run() -> int:
        db = _open_db(args)
        decl = monthly_declaration(
            db, _sign_in(args, db), args.institution or DEMO_INSTITUTION, _month_arg(args.month)
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

    return _batch(run)


def _cmd_certify(args: argparse.Namespace) -> int:
    import datetime as dt
    from pathlib import Path

    from .batch.certify import certify
    from .policies import load_pack, load_pack_file

    outcome = {"changed": False}

    def run() -> int:
        try:
            start, end = dt.date.fromisoformat(args.start), dt.date.fromisoformat(args.end)
        except ValueError:
            raise ValueError(f"--from/--to: not a date YYYY-MM-DD: {args.start!r} {args.end!r}") from None
        given = Path(args.pack)
        pack = load_pack_file(given) if given.suffix == ".toml" or given.exists() else load_pack(args.pack)
        db = _open_db(args)
        report = certify(db, _sign_in(args, db), pack, start, end)
        print(report.describe())
        outcome["changed"] = not report.unchanged
        return 0

    code = _batch(run)
    return 1 if code == 0 and outcome["changed"] else code


def _cmd_monitor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .batch.monitoring import INDICATOR_LABELS, monitor_month
    from .printing.agency_reports import monitoring_pdf

    def run() -> int:
        db = _open_db(args)
        report = monitor_month(db, _sign_in(args, db), _month_arg(args.month))
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

    return _batch(run)


def _config_set_audited(args: argparse.Namespace) -> int:
    """`config set --by STAFF`: the supervisor signs in, and the change is audited with the file."""
    from dataclasses import replace

    from .config import config_path, load, parse, shown
    from .services.counter_settings import change
    from .services.errors import ServiceError

    new_value = parse(args.key, args.value)
    db = _open_db(args)
    try:
        actor = _sign_in(args, db)
        changed = change(db, actor, replace(load(), **{args.key: new_value}))
    except ServiceError as exc:
        print(f"config set: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for key, (old, new) in changed.items():
        print(f"{key}: {old} -> {new}  ({config_path()}; audited as {actor.staff_no})")
    if not changed:
        print(f"{args.key} is already {shown(args.key, new_value)}: nothing changed")
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from .config import DESCRIPTIONS, ConfigError, config_path, set_value, shown

    if args.config_command == "path":
        print(config_path())
        return 0
    if args.config_command == "set":
        if not args.by and not args.file_only:
            print(
                "config set: sign in as a supervisor (--by STAFF) so the change is audited, or, as an "
                "administrator with the OS rights to the file, say --file-only",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        try:
            if args.by:
                return _config_set_audited(args)
            old, new = set_value(args.key, args.value)
        except ConfigError as exc:
            print(f"config set: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(
            f"{args.key}: {shown(args.key, old)} -> {shown(args.key, new)}  ({config_path()}; "
            "only the file was changed, by the OS rights to it: no audit entry)"
        )
        return 0
    cfg = _settings(args)
    print(f"# {config_path()}{'' if config_path().exists() else ' (not written yet: the defaults)'}")
    for key, label in DESCRIPTIONS.items():
        print(f"{key} = {shown(key, getattr(cfg, key))}    # {label}")
    return 0


def _cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .services.backup import backup
    from .store import DatabaseError

    cfg = _settings(args)
    folder = args.to or cfg.backup_dir
    if not folder:
        print(
            "backup: give --to FOLDER, or set backup_dir (`counter-app config set backup_dir FOLDER`)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    db = _open_db(args)
    try:
        path = backup(db, Path(folder), cfg.backup_keep, why="hand")
    except (DatabaseError, OSError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {db.describe()} to {path} (keeping the newest {cfg.backup_keep})")
    return 0


def _restore_sign_in(args: argparse.Namespace, url: str, backup_file):
    """The supervisor signs in against the live database; when it cannot be opened (the reason to
    restore), against a scratch copy of the backup, so the backup itself is never written."""
    import shutil
    import tempfile
    from pathlib import Path

    from .store import Database, DatabaseError
    from .store.db import sqlite_url

    try:
        signing = Database(url, create=False)
    except DatabaseError:
        if not backup_file.is_file():
            raise
        with tempfile.TemporaryDirectory() as tmp:
            scratch = Path(tmp) / "sign-in.sqlite3"
            shutil.copyfile(backup_file, scratch)
            signing = Database(sqlite_url(scratch), create=False)
            try:
                return _sign_in(args, signing)
            finally:
                signing.dispose()
    try:
        return _sign_in(args, signing)
    finally:
        signing.dispose()


def _cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .services.backup import restore
    from .services.errors import ServiceError
    from .store import DatabaseError
    from .store.db import default_url

    url = args.db or _settings(args).database or default_url()
    try:
        actor = _restore_sign_in(args, url, Path(args.file))
        checked, kept, dropped = restore(Path(args.file), url, actor, roll_back=args.roll_back)
    except (DatabaseError, OSError, ServiceError) as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {args.file}: schema {checked.revision}, {checked.audit_entries} audit entries and "
        f"{checked.accounts} accounts check out"
        + (f"; {dropped.describe()}, approved by {actor.staff_no}" if dropped else "")
        + (f"; the replaced database is kept as {kept}" if kept else "")
    )
    return 0


COMMANDS_EPILOG = """commands (`counter-app COMMAND --help` for each):
  run           start the counter application (the default when no command is given)
  settle        settle one claim (JSON) and print the settlement JSON
  config        show or change this counter's settings file
  backup        back up the SQLite database now (safe while counters run)
  restore FILE  put a checked backup back (refused while a counter has the database open)
  db upgrade    create or upgrade the database schema
  demo-data     fill an empty database with demo data
  registry-export  write the insured population as a registry file (for a training centre)
  golive DIR    load a hospital's go-live files in order (catalogue, terms, price list, departments, doctors)
  catalogue, pricelist, clinical   load each of them alone; `pricelist report` lists unmapped items
  population    the agency's insured population: persons (two account pots) and bindings
  sync          send queued messages to the insurance centre
  reconcile     3201 reconciliation of one day with the centre
  audit verify  check the audit chain and every money row
  credit, interest, declaration, monitor   the agency's batches
  certify PACK  replay a period's settlements through a candidate policy pack; exit 0: nothing changes
  centre        run the reference insurance centre (tests, training)"""


def _batch_by(parser: argparse.ArgumentParser) -> None:
    """The --by of an agency batch: who runs it, signed in for the run."""
    parser.add_argument(
        "--by",
        required=True,
        help="who runs it: a staff number allowed to run batches; the password from "
        "$COUNTER_APP_PASSWORD or asked for",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="counter-app",
        description="Billing counter for medical insurance.",
        epilog=COMMANDS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    settle = sub.add_parser("settle", help="settle one claim (JSON) and print the settlement JSON")
    settle.add_argument("claim", help="claim file, or - for standard input")
    settle.set_defaults(run=_cmd_settle)

    db_help = "database URL (default: SQLite file in the user data folder; postgresql://... for a shared one)"
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = db_sub.add_parser("upgrade", help="create or upgrade the schema to the newest migration")
    upgrade.add_argument("--db", help=db_help)
    upgrade.set_defaults(run=_cmd_db_upgrade)

    demo = sub.add_parser("demo-data", help="fill an empty database with a demo population and catalogue")
    demo.add_argument("--persons", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=20221)
    demo.add_argument(
        "--history-months",
        type=int,
        default=6,
        help="months of settlements before this one (for the agency's batches; 0: none)",
    )
    demo.add_argument("--db", help=db_help)
    demo.set_defaults(run=_cmd_demo_data)

    audit = sub.add_parser("audit", help="the audit chain")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify = audit_sub.add_parser(
        "verify", help="check the keyed chain and every row that decides who pays against it"
    )
    verify.add_argument(
        "--anchor",
        help="a head kept outside the database: ID:HASH from a shift report or day close, or a "
        "backup's record (.json); a cut tail shows",
    )
    verify.add_argument("--db", help=db_help)
    verify.set_defaults(run=_cmd_audit_verify)

    centre = sub.add_parser(
        "centre",
        help="run the reference insurance centre over HTTP (tests, training)",
        description="The reference insurance centre: answers the national platform's transactions (2101-2103, "
        "2201-2208, 2301-2305, 2401-2405, 2601, 3201/3202) from its own books. Its inpatient benefits "
        "are TRAINING VALUES (resources/centre/inpatient-training.toml): the policy documents give no "
        "inpatient numbers, so they are not any region's policy.",
    )
    centre.add_argument("--host", default="127.0.0.1")
    centre.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed)")
    centre.add_argument("--centre-db", default="centre.sqlite3", help="the centre's own SQLite file")
    centre.add_argument(
        "--paasid",
        help="the one paasid it accepts, its passtoken in "
        "$COUNTER_APP_CENTRE_PASSTOKEN (default: the training pair, paasid 'training')",
    )
    centre.add_argument(
        "--admin-port",
        type=int,
        default=0,
        help="port of the fault and stats endpoints, on 127.0.0.1 only (0: a free one, printed)",
    )
    centre.add_argument(
        "--admin-token",
        help="token the admin endpoints ask for (default: "
        "$COUNTER_APP_CENTRE_ADMIN_TOKEN, else made up and printed)",
    )
    centre.add_argument(
        "--registry",
        help="a registry file (persons with cards and accounts, bindings, year totals, "
        "catalogue, institutions) loaded into the centre's own database at start",
    )
    centre.add_argument(
        "--population",
        help="the agency's persons file (CSV or Excel, the format `counter-app population persons` "
        "imports), loaded after --registry",
    )
    centre.add_argument("--bindings", help="the agency's bindings file, with --population")
    centre.add_argument(
        "--catalogues",
        help="folder of the national catalogue files the centre hands out (1301-<ver>.zip …, "
        "1312.json …: the go-live folder's layout)",
    )
    centre.add_argument(
        "--policies",
        help="folder of the centre's own policy packs (default: the shipped ones); "
        "a pack that differs from the counter's makes the centre disagree, as a real one can",
    )
    centre.add_argument(
        "--profile",
        default="national",
        choices=("national", "hefei-legacy"),
        help="hefei-legacy answers the family-account amount in Hefei's older names (HF-A)",
    )
    centre.add_argument(
        "--infcode",
        choices=("number", "text"),
        default="number",
        help="how answers carry infcode: a JSON number as the platform writes it (default), or text "
        '("0") as some provincial centres do',
    )
    centre.add_argument("--record", help="append every request received, one JSON per line, to this file")
    centre.add_argument(
        "--inpatient",
        help="the centre's inpatient benefits file (default: the shipped "
        "TRAINING VALUES, resources/centre/inpatient-training.toml)",
    )
    centre.add_argument(
        "--demo",
        metavar="URL",
        help="a demo counter database whose history (the settlements "
        "`demo-data` marked sent) the centre holds, so reconciling a history day ties",
    )
    centre.set_defaults(run=_cmd_centre)

    export = sub.add_parser(
        "registry-export",
        help="write a counter database's insured population as a registry file, for a training centre",
    )
    export.add_argument("file")
    export.add_argument("--db", help=db_help)
    export.set_defaults(run=_cmd_registry_export)

    from .cli_go_live import add_parsers as go_live_parsers

    go_live_parsers(sub, db_help)

    sync = sub.add_parser("sync", help="send queued settlements and refunds to the centre")
    sync.add_argument(
        "--paasid",
        help="gateway access id (or $COUNTER_APP_PAASID); the passtoken comes from "
        "$COUNTER_APP_PASSTOKEN; with neither, the reference centre's training pair",
    )
    sync.add_argument(
        "--centre", help=f"insurance centre URL (default: the settings file, else {DEFAULT_CENTRE})"
    )
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
    rec.add_argument(
        "--paasid",
        help="gateway access id (or $COUNTER_APP_PAASID); the passtoken comes from "
        "$COUNTER_APP_PASSTOKEN; with neither, the reference centre's training pair",
    )
    rec.add_argument(
        "--centre", help=f"insurance centre URL (default: the settings file, else {DEFAULT_CENTRE})"
    )
    rec.add_argument("--db", help=db_help)
    rec.add_argument("--date", help="YYYY-MM-DD (default: today)")
    rec.add_argument("--institution", help="institution code (default: the demo hospital)")
    rec.set_defaults(run=_cmd_reconcile)

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

    config = sub.add_parser("config", help="show or change this counter's settings (a TOML file)")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    config_sub.add_parser("show", help="every setting with its value (secrets masked)")
    config_sub.add_parser("path", help="where the settings file is")
    config_set = config_sub.add_parser("set", help="check and store one setting")
    config_set.add_argument("key")
    config_set.add_argument("value")
    config_set.add_argument("--by", help="the supervisor's staff number: the change is audited")
    config_set.add_argument("--db", help=db_help)
    config_set.add_argument("--institution", help="where the supervisor signs in (default: the settings')")
    config_set.add_argument(
        "--file-only",
        action="store_true",
        help="an administrator with the OS rights to the file: change it without an audit entry",
    )
    config.set_defaults(run=_cmd_config)

    back = sub.add_parser("backup", help="back up the SQLite database now (safe while counters run)")
    back.add_argument("--to", help="folder (default: backup_dir in the settings)")
    back.add_argument("--db", help=db_help)
    back.set_defaults(run=_cmd_backup)
    rest = sub.add_parser(
        "restore",
        help="put a backup of this database back (a supervisor), after checking it is whole and "
        "this database's; refused while a counter, sync or a batch has the database open",
    )
    rest.add_argument("file")
    rest.add_argument("--db", help=db_help)
    rest.add_argument("--by", required=True, help="the supervisor's staff number (password asked for)")
    rest.add_argument("--institution", help="where the supervisor signs in (default: the settings')")
    rest.add_argument(
        "--roll-back",
        action="store_true",
        help="approve restoring a backup older than the database (the settlements since are dropped)",
    )
    rest.set_defaults(run=_cmd_restore)

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
        help="gateway access id (or $COUNTER_APP_PAASID); the passtoken comes from "
        "$COUNTER_APP_PASSTOKEN; with neither, the reference centre's training pair",
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("--") and argv[0] != "--help"):
        argv = ["run", *argv]  # `counter-app` alone starts the application; `--help` lists the commands
    args = parser.parse_args(argv)
    if args.command not in ("settle", "config", "centre"):  # the counter's own work goes to its log
        from . import logs

        logs.setup()
        logs.LOG.info(
            "counter-app %s",
            " ".join(a if not a.startswith(("postgresql", "sqlite")) else "<db>" for a in argv[:3]),
        )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
