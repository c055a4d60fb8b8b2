"""`counter-app centre`: the reference centre's command, added to the counter's command line by the
entry point `counter_app.commands` (pyproject.toml), so the counter never imports the centre."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

EXIT_BAD_INPUT = 2  # the counter's code for bad input (counter_app.cli)


def add_parser(sub: Any, db_help: str) -> str:
    """The `centre` subcommand; returns its line for the command list."""
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
    centre.set_defaults(run=run)

    centre.set_defaults(own_log=True)  # the centre is not the counter: it does not write the counter's log
    return "centre        run the reference insurance centre (tests, training)"


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN

    from .server import serve

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
        from counter_app.registry_file import RegistryError, load

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
        from counter_app.services import population as population_file
        from counter_app.services.table_file import FileRefused

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
