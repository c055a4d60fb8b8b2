"""`config`: show or change this counter's settings file, audited when a supervisor changes it."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .common import (
    EXIT_BAD_INPUT,
    open_db,
    settings_of,
    sign_in_by,
)


def _config_set_audited(args: argparse.Namespace) -> int:
    """`config set --by STAFF`: the supervisor signs in, and the change is audited with the file."""
    from dataclasses import replace

    from ..config import config_path, load, parse, shown
    from ..services.counter_settings import change
    from ..services.errors import ServiceError

    new_value = parse(args.key, args.value)
    db = open_db(args)
    try:
        actor = sign_in_by(args, db)
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
    from ..config import DESCRIPTIONS, ConfigError, config_path, set_value, shown

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
    cfg = settings_of(args)
    print(f"# {config_path()}{'' if config_path().exists() else ' (not written yet: the defaults)'}")
    for key, label in DESCRIPTIONS.items():
        print(f"{key} = {shown(key, getattr(cfg, key))}    # {label}")
    return 0


def add_parsers(sub: Any, db_help: str) -> None:
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
