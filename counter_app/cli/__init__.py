"""`counter-app` (and `python -m counter_app`): the command line, one module per group of commands.

Exit codes: 0 done; 2 bad input, one line per problem on stderr and nothing on stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

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
  certify PACK  replay a period's settlements through a candidate policy pack; exit 0: nothing changes"""


DB_HELP = "database URL (default: SQLite file in the user data folder; postgresql://... for a shared one)"
PLUGINS = "counter_app.commands"  # entry points that add a command (the reference centre's `centre`)


def build_parser() -> argparse.ArgumentParser:
    from . import agency, counter, database, go_live, settings, sync

    parser = argparse.ArgumentParser(
        prog="counter-app",
        description="Billing counter for medical insurance.",
        epilog=COMMANDS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (counter, database, go_live, sync, agency, settings):
        group.add_parsers(sub, DB_HELP)
    for plugin in entry_points(group=PLUGINS):  # installed beside the counter, never imported by it
        try:
            add = plugin.load()
        except ImportError:  # named in the metadata but not shipped (a counter bundle): no such command
            continue
        parser.epilog = f"{parser.epilog}\n  {add(sub, DB_HELP)}"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("--") and argv[0] != "--help"):
        argv = ["run", *argv]  # `counter-app` alone starts the application; `--help` lists the commands
    args = parser.parse_args(argv)
    if args.command not in ("settle", "config") and not getattr(
        args, "own_log", False
    ):  # the counter's own work goes to its log
        from .. import logs

        logs.setup()
        logs.LOG.info(
            "counter-app %s",
            " ".join(a if not a.startswith(("postgresql", "sqlite")) else "<db>" for a in argv[:3]),
        )
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
