"""The go-live commands (issue 24): `catalogue`, `pricelist`, `clinical`, `golive` and
`population`. Each signs in as --by (the password from $COUNTER_APP_PASSWORD or asked for), needs
the `catalogue` permission (`population`: the agency's), and refuses a bad file in one message naming every bad line, having written nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _run(args: argparse.Namespace, body: Any) -> int:
    from .common import open_db, run_batch, sign_in_by

    def run() -> int:
        db = open_db(args)
        body(db, sign_in_by(args, db))
        return 0

    return run_batch(run)


def _cmd_catalogue(args: argparse.Namespace) -> int:
    from ..services import national_catalogue
    from .common import Bar

    if args.action == "download":
        return _download(args)

    def body(db: Any, actor: Any) -> None:
        path = Path(args.file)
        if not path.is_file():
            raise ValueError(f"catalogue: no file {path}")
        if args.action == "load":
            bar = Bar(f"catalogue {args.catalogue}", "row")
            try:
                report = national_catalogue.load_download(
                    db, actor, args.catalogue, args.version, path.read_bytes(), progress=bar
                )
            finally:
                bar.close()
        else:
            report = national_catalogue.load_terms(db, actor, args.query, path.read_text(encoding="utf-8"))
        print(report.describe())

    return _run(args, body)


def _download(args: argparse.Namespace) -> int:
    """Every catalogue (or the named ones) from the centre: downloads by version, then the terms."""
    from ..sync import catalogue_online, fields
    from ..sync.client import CentreClient, Rejected, Transient
    from .common import DEFAULT_CENTRE, centre_down, credentials, settings_of

    wanted = args.only or [*fields.CATALOGUE_DOWNLOADS, *fields.TERM_QUERIES]
    unknown = [c for c in wanted if c not in (*fields.CATALOGUE_DOWNLOADS, *fields.TERM_QUERIES)]
    if unknown:
        print(f"catalogue download: unknown catalogue {', '.join(unknown)}", file=sys.stderr)
        return 2
    client = CentreClient(
        args.centre or settings_of(args).centre or DEFAULT_CENTRE, credentials=credentials(args)
    )

    done: list[str] = []

    def body(db: Any, actor: Any) -> None:
        for code in wanted:
            if code in fields.TERM_QUERIES:
                report = catalogue_online.query_terms(db, client, actor, code)
            else:
                report = catalogue_online.download(db, client, actor, code)
            print(report.describe(), flush=True)
            done.append(code)

    try:
        return _run(args, body)
    except (Transient, Rejected, OSError) as exc:  # each catalogue is its own transaction
        if done:
            print(f"catalogue download: {', '.join(done)} loaded; the rest not", file=sys.stderr)
        return centre_down(f"catalogue download {wanted[len(done)]}", exc)
    finally:
        client.close()


def _cmd_pricelist(args: argparse.Namespace) -> int:
    import datetime as dt

    from ..services import price_list

    def body(db: Any, actor: Any) -> None:
        if args.action == "import":
            print(price_list.import_file(db, actor, Path(args.file)).describe())
            return
        day = dt.date.fromisoformat(args.date) if args.date else dt.date.today()
        problems = price_list.mapping_report(db, actor, day, args.days)
        for p in problems:
            print(f"{p.code}\t{p.name}\t{p.national_code or '-'}\t{p.reason}")
        print(f"{len(problems)} 项未对照或即将到期（{day}，{args.days} 天内）", file=sys.stderr)

    return _run(args, body)


def _cmd_clinical(args: argparse.Namespace) -> int:
    from ..services import clinical
    from ..services.demo import DEMO_INSTITUTION

    def body(db: Any, actor: Any) -> None:
        load = clinical.import_departments if args.action == "departments" else clinical.import_doctors
        added, changed = load(db, actor, args.institution or DEMO_INSTITUTION, Path(args.file))
        print(f"{args.action}: added {added}, changed {changed}")

    return _run(args, body)


def _cmd_golive(args: argparse.Namespace) -> int:
    from ..services import go_live
    from ..services.demo import DEMO_INSTITUTION

    def body(db: Any, actor: Any) -> None:
        go_live.load_folder(db, actor, Path(args.folder), args.institution or DEMO_INSTITUTION, say=print)

    return _run(args, body)


def _cmd_population(args: argparse.Namespace) -> int:
    from ..services import population

    def body(db: Any, actor: Any) -> None:
        if args.action == "persons":
            print(population.import_persons(db, actor, Path(args.file)).describe())
        else:
            print(population.import_bindings(db, actor, Path(args.file)).describe())

    return _run(args, body)


def add_parsers(sub: Any, db_help: str) -> None:
    by_help = (
        "who loads it: a staff number with the catalogue permission (a supervisor); the password "
        "from $COUNTER_APP_PASSWORD or asked for"
    )

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--by", required=True, help=by_help)
        p.add_argument("--institution", help="institution code (default: the demo hospital)")
        p.add_argument("--db", help=db_help)

    cat = sub.add_parser("catalogue", help="load the national catalogue: download files and terms")
    cat_sub = cat.add_subparsers(dest="action", required=True)
    load = cat_sub.add_parser("load", help="a download file (zip, tab-separated, as 9102 returns it)")
    load.add_argument("file")
    load.add_argument(
        "--catalogue",
        required=True,
        help="1301 drugs, 1302 herbal pieces, 1305 services, 1306 materials, "
        "1307 diseases, 1309 chronic/special diseases",
    )
    load.add_argument("--version", required=True, help="the file's version (ver)")
    common(load)
    terms = cat_sub.add_parser("terms", help="a 1312 / 1318 / 1319 query answer (JSON): class, cap, self-pay")
    terms.add_argument("file")
    terms.add_argument("--query", required=True, choices=("1312", "1318", "1319"))
    common(terms)
    online = cat_sub.add_parser(
        "download",
        help="from the centre: each catalogue newer than the version held (1301–1309, by 9102), "
        "then the terms (1312, 1318, 1319, paged)",
    )
    online.add_argument("only", nargs="*", help="just these (e.g. 1301 1312); default: all")
    online.add_argument("--centre", help="the centre's URL (default: the configured one)")
    common(online)
    cat.set_defaults(run=_cmd_catalogue)

    price = sub.add_parser("pricelist", help="the hospital's price list and its mapping (目录对照)")
    price_sub = price.add_subparsers(dest="action", required=True)
    imp = price_sub.add_parser("import", help="import or update the price list from CSV or Excel")
    imp.add_argument("file")
    common(imp)
    report = price_sub.add_parser("report", help="items unmapped on a day, or whose mapping ends soon")
    report.add_argument("--date", help="YYYY-MM-DD (default: today)")
    report.add_argument("--days", type=int, default=30, help="how far ahead an ending mapping is listed")
    common(report)
    price.set_defaults(run=_cmd_pricelist)

    clin = sub.add_parser("clinical", help="import departments or doctors (CSV or Excel)")
    clin_sub = clin.add_subparsers(dest="action", required=True)
    for action, what in (
        ("departments", "科室编码, 科室名称, 科别, 默认, 常用诊断编码"),
        ("doctors", "医师编码, 医师姓名, 科室编码, 默认, 在职"),
    ):
        p = clin_sub.add_parser(action, help=f"columns: {what}")
        p.add_argument("file")
        common(p)
    clin.set_defaults(run=_cmd_clinical)

    golive = sub.add_parser(
        "golive", help="load a folder of go-live files in order (README: Go live at a hospital)"
    )
    golive.add_argument("folder")
    common(golive)
    golive.set_defaults(run=_cmd_golive)

    pop = sub.add_parser(
        "population", help="the agency's insured population: persons and bindings (CSV or Excel)"
    )
    pop_sub = pop.add_subparsers(dest="action", required=True)
    for action, what in (
        (
            "persons",
            "人员编号, 身份证号, 姓名, 险种, 人员类别, 参保状态, 退休日期, 缴费基数, 死亡日期, 历年结余, 当年余额",
        ),
        ("bindings", "提供人身份证号, 受益人身份证号, 关系, 绑定日期"),
    ):
        p = pop_sub.add_parser(action, help=f"columns: {what}")
        p.add_argument("file")
        p.add_argument(
            "--by", required=True, help="an agency clerk's staff number (the population permission)"
        )
        p.add_argument("--db", help=db_help)
    pop.set_defaults(run=_cmd_population)
