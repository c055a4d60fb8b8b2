"""What every command shares: the settings file, the database, the gateway credentials, the signed-in
actor of a batch, progress bars and the one-line answers for bad input and an unreachable centre."""

from __future__ import annotations

import argparse
import os
import sys

EXIT_BAD_INPUT = 2


DEFAULT_CENTRE = "http://127.0.0.1:8765"  # the reference centre, for training


def credentials(args: argparse.Namespace):
    """The counter's gateway credentials: --paasid (or $COUNTER_APP_PAASID, or the settings file)
    with the passtoken in $COUNTER_APP_PASSTOKEN (or the settings file); with neither, the reference
    centre's training pair."""
    from ..sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Credentials

    cfg = settings_of(args)
    paasid = getattr(args, "paasid", None) or os.environ.get("COUNTER_APP_PAASID") or cfg.paasid
    passtoken = os.environ.get("COUNTER_APP_PASSTOKEN") or cfg.passtoken
    if paasid and passtoken:
        return Credentials(paasid, passtoken)
    if paasid or passtoken:
        print("gateway: give both the paasid and $COUNTER_APP_PASSTOKEN", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    return Credentials(TRAINING_PAASID, TRAINING_PASSTOKEN)


def settings_of(args: argparse.Namespace):
    """The counter's settings file (config.py), read once per command (kept on `args`); a broken
    file is one clear line and exit 2."""
    from ..config import ConfigError, load

    if getattr(args, "settings", None) is None:
        try:
            args.settings = load()
        except ConfigError as exc:
            print(f"settings: {exc}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_INPUT) from None
    return args.settings


def open_db(args: argparse.Namespace, *, create: bool = False):
    """The database of --db, else of the settings file, else the default SQLite file. Only the
    commands that make a database (`db upgrade`, `demo-data`, the first start) pass `create`:
    elsewhere a SQLite file that is not there is an error, not a new empty database."""
    from ..store import Database, DatabaseError

    cfg = settings_of(args)  # read first: a broken settings file is said even when --db is given
    url = getattr(args, "db", None) or cfg.database or None
    first_start = url is None and getattr(args, "command", None) == "run"  # a fresh install's default file
    try:
        db = Database(url, create=create or first_start)
    except DatabaseError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(1) from None
    if db.is_sqlite and db.url.database not in (None, "", ":memory:"):
        from ..services.backup import hold

        args.held_database = hold(db)  # `restore` refuses while sync, a batch or any command runs
    return db


class Bar:
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


def centre_down(what: str, exc: Exception) -> int:
    """One line instead of a traceback when the centre cannot be reached or answers garbage."""
    import logging

    logging.getLogger("counter_app.cli").warning("%s: centre unreachable: %r", what, exc)
    print(
        f"{what}: the insurance centre did not answer ({type(exc).__name__}: {str(exc)[:200]}); "
        "nothing was changed — try again when it is reachable",
        file=sys.stderr,
    )
    return 3


def sign_in_by(args: argparse.Namespace, db):
    """The actor for a command run by hand: --by STAFF, the password from $COUNTER_APP_PASSWORD or
    asked for, at --institution, else the settings' institution, else the demo hospital. A batch
    runs with that person's permissions and is audited under their name."""
    import getpass

    from ..services.demo import DEMO_INSTITUTION
    from ..services.staff import sign_in

    password = os.environ.get("COUNTER_APP_PASSWORD")
    if password is None:
        password = (
            getpass.getpass(f"{args.by} 的密码：")
            if sys.stdin.isatty()
            else sys.stdin.readline().rstrip("\n")
        )
    institution = getattr(args, "institution", None) or settings_of(args).institution or DEMO_INSTITUTION
    return sign_in(db, args.by, password, institution, "命令行")


def run_batch(run) -> int:
    """Run an agency batch; a refusal (BatchError, bad month, policy or rates, sign-in or
    permission) is one line and exit 2."""
    from ..batch.runs import BatchError
    from ..engine.interest import RatesError
    from ..engine.policy import PackError
    from ..services.errors import ServiceError

    try:
        return run()
    except (BatchError, PackError, RatesError, ValueError, ServiceError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT


PAASID_HELP = (
    "gateway access id (or $COUNTER_APP_PAASID); the passtoken comes from "
    "$COUNTER_APP_PASSTOKEN; with neither, the reference centre's training pair"
)


def add_centre_arguments(parser: argparse.ArgumentParser) -> None:
    """--paasid and --centre, as every command that talks to the centre takes them."""
    parser.add_argument("--paasid", help=PAASID_HELP)
    parser.add_argument(
        "--centre", help=f"insurance centre URL (default: the settings file, else {DEFAULT_CENTRE})"
    )
