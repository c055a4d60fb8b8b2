"""The database's commands: `db upgrade`, `demo-data`, `registry-export`, `audit verify`, `backup` and `restore`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import (
    EXIT_BAD_INPUT,
    Bar,
    open_db,
    settings_of,
    sign_in_by,
)


def _cmd_db_upgrade(args: argparse.Namespace) -> int:
    db = open_db(args, create=True)  # opening upgrades
    print(f"{db.describe()}: schema at revision {db.current_revision()}")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from ..services.demo import create_demo

    db = open_db(args, create=True)
    bar = Bar("demo data", "step")
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


def _cmd_registry_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..registry_file import dump
    from ..services.registry_export import export

    db = open_db(args)
    data = export(db)
    dump(data, Path(args.file))
    print(
        f"registry: {len(data['persons'])} persons, {len(data['bindings'])} bindings, "
        f"{len(data['institutions'])} institutions written to {args.file}"
    )
    return 0


def _anchor_arg(text: str | None):
    """--anchor ID:HASH as printed on a shift report or day close, or a backup's record file."""
    from pathlib import Path

    from ..store.audit import parse_anchor

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
    from ..services.audit import check_books
    from ..store.audit import head

    anchor = _anchor_arg(args.anchor)
    db = open_db(args)
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


def _cmd_backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..services.backup import backup
    from ..store import DatabaseError

    cfg = settings_of(args)
    folder = args.to or cfg.backup_dir
    if not folder:
        print(
            "backup: give --to FOLDER, or set backup_dir (`counter-app config set backup_dir FOLDER`)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    db = open_db(args)
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

    from ..store import Database, DatabaseError
    from ..store.db import sqlite_url

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
                return sign_in_by(args, signing)
            finally:
                signing.dispose()
    try:
        return sign_in_by(args, signing)
    finally:
        signing.dispose()


def _cmd_restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..services.backup import restore
    from ..services.errors import ServiceError
    from ..store import DatabaseError
    from ..store.db import default_url

    url = args.db or settings_of(args).database or default_url()
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


def add_parsers(sub: Any, db_help: str) -> None:
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

    export = sub.add_parser(
        "registry-export",
        help="write a counter database's insured population as a registry file, for a training centre",
    )
    export.add_argument("file")
    export.add_argument("--db", help=db_help)
    export.set_defaults(run=_cmd_registry_export)

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
