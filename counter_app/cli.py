"""`counter-app` (and `python -m counter_app`): the command line.

Exit codes: 0 done; 2 bad input, one line per problem on stderr and nothing on stdout.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from .engine import ClaimError

EXIT_BAD_INPUT = 2


def _cmd_settle(args: argparse.Namespace) -> int:
    from .claims import settle_text

    try:
        text = sys.stdin.read() if args.claim == "-" else open(args.claim, encoding="utf-8").read()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.claim}: cannot read the claim: {exc}", file=sys.stderr)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="counter-app", description="Billing counter for medical insurance.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    settle = sub.add_parser("settle", help="settle one claim (JSON) and print the settlement JSON")
    settle.add_argument("claim", help="claim file, or - for standard input")
    settle.set_defaults(run=_cmd_settle)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 0
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
