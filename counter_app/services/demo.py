"""A realistic demo population for training, screenshots and the README's run command.

Households around an employee provider (spouse, children, parents) with family bindings;
retirees (some who retired this year), flexible workers in both modes, people in arrears, and
year-to-date history. Seeded, so the same command gives the same people. Rows are written in
bulk, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from .. import identity
from ..store import Database
from ..store.audit import adopt
from ..store.models import (
    CatalogueItem,
    Credential,
    Institution,
    Person,
    Staff,
    YearTotal,
)
from .staff import demo_staff_row

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥建华文辉力斌宇浩凯鹏晨欣怡梓涵子轩浩然雨桐思远佳琪俊杰嘉怡志强淑珍凤兰国庆春梅海燕永刚"
REGIONS = ("340202", "340203", "340207", "340208")  # Wuhu districts

INSTITUTIONS = (
    # code, name, level, kind, policy
    ("H34020200001", "芜湖市第一人民医院", 3, "hospital", "wuhu-2022"),
    ("H34020200002", "芜湖市镜湖区范罗山街道社区卫生服务中心", 1, "primary_care", "wuhu-2022"),
    ("P34020200003", "芜湖国药大药房（门诊慢特病定点）", 0, "pharmacy", "wuhu-2022"),
    ("H34010000001", "合肥市第二人民医院", 3, "hospital", "hefei-2019"),
)
DEMO_INSTITUTION = INSTITUTIONS[0][0]
DEMO_PASSWORD = "1234"
STAFF = (
    ("c001", "张晓燕", "outpatient_cashier"),
    ("z001", "刘洋", "inpatient_cashier"),
    ("p001", "陈静", "pharmacy_clerk"),
    ("s001", "王建华", "supervisor"),
    ("j001", "赵敏", "agency_clerk"),
)

# (name, pinyin initials) parts, so search by initials works without a pinyin library.
DRUGS = [
    ("阿莫西林", "AMXL"),
    ("头孢克肟", "TBKW"),
    ("布洛芬", "BLF"),
    ("对乙酰氨基酚", "DYXAJF"),
    ("二甲双胍", "EJSG"),
    ("硝苯地平", "XBDP"),
    ("氨氯地平", "ALDP"),
    ("阿托伐他汀", "ATFTT"),
    ("奥美拉唑", "AMLZ"),
    ("蒙脱石", "MTS"),
    ("氯雷他定", "LLTD"),
    ("左氧氟沙星", "ZYFSX"),
    ("阿司匹林", "ASPL"),
    ("厄贝沙坦", "EBST"),
    ("美托洛尔", "MTLE"),
    ("格列齐特", "GLQT"),
    ("甲钴胺", "JGA"),
    ("维生素C", "WSSC"),
    ("复方甘草", "FFGC"),
    ("板蓝根", "BLG"),
    ("连花清瘟", "LHQW"),
    ("藿香正气", "HXZQ"),
    ("六味地黄", "LWDH"),
    ("银翘解毒", "YQJD"),
    ("孟鲁司特", "MLST"),
    ("沙丁胺醇", "SDAC"),
    ("泮托拉唑", "PTLZ"),
    ("瑞舒伐他汀", "RSFTT"),
    ("替米沙坦", "TMST"),
    ("缬沙坦", "XST"),
]
FORMS = [("片", "P"), ("胶囊", "JN"), ("颗粒", "KL"), ("缓释片", "HSP"), ("口服液", "KFY"), ("注射液", "ZSY")]
SERVICES = [
    ("普通门诊诊查费", "PTMZZCF", "A", "12.00"),
    ("专家门诊诊查费", "ZJMZZCF", "A", "30.00"),
    ("血常规", "XCG", "A", "20.00"),
    ("尿常规", "NCG", "A", "10.00"),
    ("肝功能", "GGN", "A", "60.00"),
    ("肾功能", "SGN", "A", "45.00"),
    ("血脂四项", "XZSX", "A", "48.00"),
    ("心电图", "XDT", "A", "25.00"),
    ("胸部X线摄影", "XBXXSY", "B", "80.00"),
    ("腹部彩超", "FBCC", "B", "160.00"),
    ("头颅CT", "TLCT", "B", "260.00"),
    ("核磁共振", "HCGZ", "B", "600.00"),
    ("静脉输液", "JMSY", "A", "8.00"),
    ("雾化吸入", "WHXR", "A", "15.00"),
    ("针灸", "ZJ", "B", "35.00"),
    ("推拿", "TN", "B", "40.00"),
    ("体检套餐（公共卫生）", "TJTC", "C", "300.00"),
    ("美容咨询", "MRZX", "C", "200.00"),
]
MATERIALS = [
    ("一次性注射器", "YCXZSQ", "A", "0.80"),
    ("医用纱布", "YYSB", "A", "2.50"),
    ("医用胶带", "YYJD", "A", "3.00"),
    ("血糖试纸", "XTSZ", "B", "45.00"),
    ("弹力绷带", "TLBD", "B", "18.00"),
    ("留置针", "LZZ", "B", "25.00"),
]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def catalogue_rows(rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for d, (drug, di) in enumerate(DRUGS):
        for f, (form, fi) in enumerate(FORMS):
            for s, strength in enumerate(
                (
                    "0.1g",
                    "0.25g",
                    "0.5g",
                    "5mg",
                    "10mg",
                    "20mg",
                    "50mg",
                    "100mg",
                    "10ml",
                    "100ml",
                    "0.2g",
                    "1g",
                    "25mg",
                    "40mg",
                    "75mg",
                    "150mg",
                )
            ):
                cls = rng.choice("AAABBC")
                rows.append(
                    dict(
                        code=f"XD{d:03d}{f:02d}{s:02d}",
                        name=f"{drug}{form} {strength}",
                        pinyin=di + fi,
                        kind="drug",
                        cls=cls,
                        prepay_ratio=Decimal(rng.choice(("0.10", "0.15", "0.20")))
                        if cls == "B"
                        else Decimal(0),
                        price=Decimal(rng.randint(150, 25000)) / 100,
                        unit=form[-1] if form != "口服液" else "支",
                        account_payable=True,
                    )
                )
    for n, (name, initials, cls, price) in enumerate(SERVICES):
        rows.append(
            dict(
                code=f"FW{n:05d}",
                name=name,
                pinyin=initials,
                kind="service",
                cls=cls,
                prepay_ratio=Decimal("0.10") if cls == "B" else Decimal(0),
                price=Decimal(price),
                unit="次",
                account_payable=not name.endswith(("（公共卫生）", "咨询")),
            )
        )  # WH-9
    for n, (name, initials, cls, price) in enumerate(MATERIALS):
        rows.append(
            dict(
                code=f"CL{n:05d}",
                name=name,
                pinyin=initials,
                kind="material",
                cls=cls,
                prepay_ratio=Decimal("0.20") if cls == "B" else Decimal(0),
                price=Decimal(price),
                unit="个",
                account_payable=True,
            )
        )
    return rows


def national_code(row: dict[str, Any]) -> str | None:
    """The demo item's national code (目录对照), made up in the platform's shape; the public-health
    check-up package stays unmapped, so the demo shows an item sold only as self-pay."""
    code = row["code"]
    if row["name"].endswith("（公共卫生）"):
        return None
    if row["kind"] == "drug":
        return f"XN{code[2:]}A001010100000"
    if row["kind"] == "service":
        return f"0011{code[2:]}00000"
    return f"C1401{code[2:]}0001"


DEMO_DEPARTMENTS = (  # code, name, caty, default, usual diagnosis
    ("0101", "全科医疗科", "A02", "是", "J06.900"),
    ("0301", "内科", "A03", "否", "I10.x00"),
    ("1401", "中医科", "A50", "否", "J06.900"),
)
DEMO_DOCTORS = (  # code (platform practitioner code), name, department, default
    ("D340202000101", "孙立民", "0101", "是"),
    ("D340202000102", "吴佳", "0101", "否"),
    ("D340202000301", "周国强", "0301", "是"),
    ("D340202001401", "郑文", "1401", "是"),
)
DEMO_DISEASES = (  # 1307 diseases; 1309 chronic/special diseases
    ("J06.900", "急性上呼吸道感染"),
    ("I10.x00", "高血压"),
    ("E11.900", "2型糖尿病"),
    ("K29.700", "胃炎"),
    ("M54.500", "下背痛"),
)
DEMO_CHRONIC = (("M03900", "高血压（门诊慢特病）"), ("M01600", "糖尿病（门诊慢特病）"))
LEVELS = {"A": "01", "B": "02", "C": "03"}


def go_live_demo(db: Database, rows: list[dict[str, Any]], folder: Path | None = None) -> None:
    """Write the demo's go-live files (national catalogue, terms, price list, departments and
    doctors) and load them the way a hospital does (services/go_live.py)."""
    import tempfile

    from . import go_live as gl
    from . import national_catalogue
    from .staff import sign_in

    with tempfile.TemporaryDirectory() as tmp:
        where = folder or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        mapped = [(national_code(r), r) for r in rows]
        for catalogue, kind in national_catalogue.KIND_OF.items():
            items = [(n, r["name"]) for n, r in mapped if n and r["kind"] == kind]
            if items:  # the demo has no herbal pieces (1302)
                gl.write_download(where, catalogue, "20260101", items)
        gl.write_download(where, "1307", "20260101", DEMO_DISEASES)
        gl.write_download(where, "1309", "20260101", DEMO_CHRONIC)
        begin = {"begndate": "2020-01-01", "enddate": None, "vali_flag": "1"}
        gl.write_terms(
            where,
            "1312",
            [{"hilist_code": n, "chrgitm_lv": LEVELS[r["cls"]], **begin} for n, r in mapped if n],
        )
        gl.write_terms(
            where,
            "1319",
            [
                {"hilist_code": n, "selfpay_prop": str(r["prepay_ratio"]), **begin}
                for n, r in mapped
                if n and r["cls"] == "B"
            ],
        )
        caps = [(n, r) for n, r in mapped if n and r["kind"] == "material" and r["cls"] != "C"][:2]
        gl.write_terms(
            where,
            "1318",
            [
                {"hilist_code": n, "hilist_pric_uplmt_amt": str(r["price"] * Decimal("0.8")), **begin}
                for n, r in caps
            ],
        )  # two materials priced above their cap: the demo shows 超限价自付
        kinds = {"drug": "药品", "service": "诊疗", "material": "材料"}
        gl.write_table(
            where,
            "price_list",
            ("医院项目编码", "项目名称", "规格", "单位", "单价", "国家医保编码", "类别", "个人账户可付"),
            [
                (
                    r["code"],
                    r["name"],
                    "",
                    r["unit"],
                    r["price"],
                    n or "",
                    kinds[r["kind"]],
                    "是" if r["account_payable"] else "否",
                )
                for n, r in mapped
            ],
        )
        gl.write_table(
            where, "departments", ("科室编码", "科室名称", "科别", "默认", "常用诊断编码"), DEMO_DEPARTMENTS
        )
        gl.write_table(where, "doctors", ("医师编码", "医师姓名", "科室编码", "默认"), DEMO_DOCTORS)
        for code, _, _, kind, _ in INSTITUTIONS:
            supervisor = sign_in(db, "s001", DEMO_PASSWORD, code, "demo-data")
            if code == DEMO_INSTITUTION:
                gl.load_folder(db, supervisor, where, code)
            elif kind != "pharmacy":
                from . import clinical

                clinical.import_departments(db, supervisor, code, where / "departments.csv")
                clinical.import_doctors(db, supervisor, code, where / "doctors.csv")


class _People:
    """Collects the demo's people as the agency's population files will hold them, handing out
    valid ID numbers; cards, e-vouchers and year totals go in beside them after the import."""

    def __init__(self, rng: random.Random, first_id: int, today: dt.date) -> None:
        self.rng, self.next_id, self.today = rng, first_id, today
        self.persons: list[dict[str, Any]] = []
        self.credentials: list[tuple[str, str, str]] = []  # psn_no, kind, code
        self.totals: list[dict[str, Any]] = []
        self.bindings: list[tuple[str, str, str, dt.datetime]] = []  # provider, beneficiary certno
        self.serials: dict[tuple[str, dt.date], int] = {}

    def add(
        self,
        age: int,
        male: bool,
        insutype: str,
        psn_type: str,
        *,
        status: str = "normal",
        retired_on: dt.date | None = None,
        balance: Decimal | None = None,
    ) -> dict[str, Any]:
        rng = self.rng
        pid = self.next_id
        self.next_id += 1
        born = self.today.replace(
            year=self.today.year - age, month=rng.randint(1, 12), day=rng.randint(1, 28)
        )
        region = rng.choice(REGIONS)
        key = (region, born)
        serial = self.serials.get(key, rng.randint(0, 40) * 2)
        serial = serial + 1 if (serial % 2 == 1) != male else serial  # odd 17th digit for men
        self.serials[key] = serial + 2
        certno = identity.make(region, born, serial % 1000)
        psn_no = f"34020{pid:010d}"
        person = dict(
            psn_no=psn_no,
            certno=certno,
            name=_name(rng),
            insutype=insutype,
            psn_type=psn_type,
            retired_on=retired_on,
            status=status,
            contribution_base=Decimal(rng.randint(4000, 15000)) if insutype == "310" else None,
            balance=None,
        )
        self.persons.append(person)
        self.credentials.append((psn_no, "card", f"A{pid:08d}"))
        self.credentials.append(
            (psn_no, "evoucher", "EV" + hashlib.sha1(certno.encode()).hexdigest()[:30].upper())
        )
        if insutype == "310" and psn_type != "flexible_pooling_only":  # WH-5
            amount = balance if balance is not None else Decimal(rng.randint(0, 600_000)) / 100
            person["balance"] = amount
            if rng.random() < 0.5:
                deductible = Decimal(rng.randint(0, 800))
                pooled = Decimal(rng.randint(0, 1500)) if deductible == 800 else Decimal(0)
                self.totals.append(
                    dict(
                        psn_no=psn_no,
                        year=self.today.year,
                        deductible_paid=deductible,
                        outpatient_pool_paid=pooled,
                        settlement_id=None,
                        note="年初至今（演示数据）",
                    )
                )
        return person

    def bind(
        self, provider: dict[str, Any], beneficiary: dict[str, Any], relation: str, at: dt.datetime
    ) -> None:
        self.bindings.append((provider["certno"], beneficiary["certno"], relation, at))


PSN_TYPE_TEXT = {
    "in_service": "在职",
    "retired": "退休",
    "flexible_combined": "灵活就业（统账结合）",
    "flexible_pooling_only": "灵活就业（单建统筹）",
}
STATUS_TEXT = {"normal": "正常", "arrears": "欠费", "suspended": "暂停"}
RELATION_TEXT = {"father": "父亲", "mother": "母亲", "spouse": "配偶", "child": "子女"}


def write_population(people: _People, folder: Path) -> tuple[Path, Path]:
    """The demo's people as the agency hands its population over (services/population.py)."""
    from . import go_live as gl
    from .population import BINDING_COLUMNS, PERSON_COLUMNS

    persons = gl.write_table(
        folder,
        "persons",
        [PERSON_COLUMNS[k][0] for k in PERSON_COLUMNS],
        [
            [
                p["psn_no"],
                p["certno"],
                p["name"],
                p["insutype"],
                PSN_TYPE_TEXT[p["psn_type"]],
                STATUS_TEXT[p["status"]],
                p["retired_on"] or "",
                p["contribution_base"] or "",
                "",  # died_on
                p["balance"] if p["balance"] is not None else "",  # all carried over (历年结余)
                "",
                "2010-01-01" if p["balance"] is not None else "",
            ]
            for p in people.persons
        ],
    )
    bindings = gl.write_table(
        folder,
        "bindings",
        [BINDING_COLUMNS[k][0] for k in BINDING_COLUMNS],
        [(a, b, RELATION_TEXT[r], at.date(), "芜湖") for a, b, r, at in people.bindings],
    )
    return persons, bindings


def population_demo(db: Database, people: _People, folder: Path | None = None) -> None:
    """Write the demo's population files and load them the way an agency does; then the cards,
    e-vouchers and year totals a population file does not carry."""
    import tempfile

    from . import population
    from .staff import sign_in

    with tempfile.TemporaryDirectory() as tmp:
        where = folder or Path(tmp)
        persons, bindings = write_population(people, where)
        clerk = sign_in(db, "j001", DEMO_PASSWORD, DEMO_INSTITUTION, "demo-data")
        population.import_persons(db, clerk, persons, as_of=people.today)
        population.import_bindings(db, clerk, bindings)
    with db.transaction() as session:
        ids = dict(session.execute(select(Person.psn_no, Person.id)).tuples().all())
        rows = [dict(person_id=ids[n], kind=kind, code=code) for n, kind, code in people.credentials]
        for start in range(0, len(rows), 5000):
            session.execute(insert(Credential), rows[start : start + 5000])
        totals = [
            {**{k: v for k, v in t.items() if k != "psn_no"}, "person_id": ids[t["psn_no"]]}
            for t in people.totals
        ]
        for start in range(0, len(totals), 5000):
            session.execute(insert(YearTotal), totals[start : start + 5000])
        adopt(
            session,
            at=dt.datetime.now(),
            staff_no="system",
            counter="demo-data",
            action="demo_data",
            obj=f"{len(totals)} year totals",
        )


def _household(p: _People) -> None:
    rng, today = p.rng, p.today
    at = dt.datetime(today.year - 1, rng.randint(1, 12), rng.randint(1, 28), 9, rng.randint(0, 59))
    mode = rng.random()
    psn_type = (
        "in_service" if mode < 0.8 else ("flexible_combined" if mode < 0.93 else "flexible_pooling_only")
    )
    status = "arrears" if rng.random() < 0.04 else "normal"
    male = rng.random() < 0.5
    age = rng.randint(28, 55)
    provider = p.add(age, male, "310", psn_type, status=status)
    if psn_type == "flexible_pooling_only":
        return  # no account to share (WH-5)
    n = 1
    if rng.random() < 0.7:
        spouse = p.add(
            age + rng.randint(-4, 4),
            not male,
            rng.choice(("310", "310", "390")),
            "in_service",
            balance=Decimal(rng.randint(0, 3000)) / 100 if rng.random() < 0.5 else None,
        )
        p.bind(provider, spouse, "spouse", at)
        n += 1
    for k in range(rng.choice((0, 1, 1, 2, 3))):
        child = p.add(rng.randint(1, max(1, age - 22)), rng.random() < 0.5, "390", "in_service")
        p.bind(provider, child, "child", at + dt.timedelta(minutes=k + 1))
        n += 1
    if rng.random() < 0.35:
        for parent_male, relation in ((True, "father"), (False, "mother")):
            if rng.random() < 0.7:
                retired = rng.random() < 0.6
                retired_on = (
                    (
                        dt.date(today.year, max(1, today.month - 2), 15)
                        if rng.random() < 0.15
                        else dt.date(today.year - rng.randint(1, 15), rng.randint(1, 12), 28)
                    )
                    if retired
                    else None
                )
                parent = p.add(
                    age + rng.randint(24, 32),
                    parent_male,
                    "310" if retired else "390",
                    "retired" if retired else "in_service",
                    retired_on=retired_on,
                )
                p.bind(provider, parent, relation, at + dt.timedelta(minutes=10))


def create_demo(
    db: Database,
    persons: int = 2000,
    *,
    seed: int = 20221,
    today: dt.date | None = None,
    history_months: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, int]:
    """Add institutions, a catalogue and about `persons` people (fewer is never made); returns counts.
    With `history_months`, also that many months of settlements before today's (demo_history).
    `progress(done, total)` is told as the work goes: the people as one step, then each month."""
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if not 0 <= history_months <= 24:
        raise ValueError(f"history months must be between 0 and 24, got {history_months}")
    rng = random.Random(seed)
    today = today or dt.date.today()
    with db.transaction() as session:
        existing = set(session.scalars(select(Institution.code)))
        for code, name, level, kind, policy in INSTITUTIONS:
            if code not in existing:
                session.add(
                    Institution(
                        code=code,
                        name=name,
                        level=level,
                        kind=kind,
                        designated=True,
                        admdvs=code[1:7],
                        policy=policy,
                    )
                )
        known_staff = set(session.scalars(select(Staff.staff_no)))
        for staff_no, name, role in STAFF:
            if staff_no not in known_staff:
                session.add(demo_staff_row(staff_no, name, role, DEMO_PASSWORD))
        first_time = not session.scalar(select(func.count()).select_from(CatalogueItem))
        already = session.scalar(select(func.count()).select_from(Person))
        if already:
            raise ValueError(
                f"the database already holds {already} persons; demo data goes into an empty one"
            )
        people = _People(rng, 1, today)
        while len(people.persons) < persons:
            _household(people)
    counts = {
        "persons": len(people.persons),
        "accounts": sum(1 for p in people.persons if p["balance"] is not None),
        "bindings": len(people.bindings),
    }
    population_demo(db, people)
    if first_time:
        go_live_demo(db, catalogue_rows(rng))
    if progress:
        progress(1, 1 + history_months)
    if history_months:
        from .demo_history import create_history

        step = (lambda done: progress(1 + done, 1 + history_months)) if progress else None
        history = create_history(db, history_months, today=today, progress=step)
        counts["settlements"] = int(str(history["settlements"]))
    return counts
