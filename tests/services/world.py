"""A small, exactly known world in a real database: one hospital, a few catalogue items, a
resident child whose employee mother and father are bound providers, and a retiree."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from counter_app import identity
from counter_app.services.actor import Actor
from counter_app.store import Database
from counter_app.store.audit import adopt
from counter_app.store.models import (
    Account,
    FamilyBinding,
    Institution,
    LedgerEntry,
    Person,
    YearTotal,
)

from ..actors import HOSPITAL, actor, approval

TODAY = dt.date(2024, 5, 10)
AT = dt.datetime(2024, 5, 10, 9, 30)


@dataclass
class World:
    db: Database
    child: int
    mother: int
    father: int
    retiree: int
    certnos: dict[str, str]
    ctx: Actor  # the outpatient cashier, signed in at 门诊1

    def actor(self, role: str, **kw) -> Actor:
        return actor(self.db, role, **kw)

    def approval(self, setl_no: str, by: Actor | None = None):
        """A supervisor's approval of refunding `setl_no`, on the cashier's screen."""
        return approval(self.db, by or self.ctx, setl_no)


def person(
    session,
    pid: int,
    name: str,
    certno: str,
    insutype: str,
    psn_type: str = "in_service",
    balance: str | None = None,
    **extra,
) -> int:
    session.add(
        Person(
            id=pid,
            psn_no=f"P{pid:04d}",
            certno=certno,
            name=name,
            insutype=insutype,
            psn_type=psn_type,
            status=extra.pop("status", "normal"),
            **extra,
        )
    )
    session.flush()
    if balance is not None:
        amount = Decimal(balance)
        session.add(Account(id=pid, person_id=pid, opened_on=dt.date(2015, 1, 1), balance=amount, version=1))
        session.flush()
        session.add(
            LedgerEntry(
                account_id=pid,
                amount=amount,
                balance_after=amount,
                kind="opening",
                note="opening",
                created_at=dt.datetime(2024, 1, 1),
            )
        )
    return pid


# The world's go-live files: three items mapped to national codes classed 甲/乙/丙 (B001's first
# self-pay 20 %), two diseases, one department (default, usual diagnosis J06.900) and its doctor.
ITEMS = (  # hospital code, name, price, national code, class level, account may pay
    ("A001", "阿莫西林胶囊", "100.00", "XA01010001", "01", "是"),
    ("B001", "头颅CT", "200.00", "XB02020001", "02", "是"),
    ("C001", "美容咨询", "80.00", "XC03030001", "03", "否"),
)
DISEASES = (("J06.900", "急性上呼吸道感染"), ("E11.900", "2型糖尿病"))
DEPARTMENT, DOCTOR = ("0101", "全科医疗科", "A02"), ("D340202000001", "孙立民")


def clinic(db: Database, institution_code: str) -> None:
    """The world's department and doctor at another institution (a test adds one)."""
    import tempfile
    from pathlib import Path

    from counter_app.services import clinical
    from counter_app.services import go_live as gl

    with tempfile.TemporaryDirectory() as tmp:
        folder, boss = Path(tmp), actor(db, "supervisor", institution=institution_code)
        dept = gl.write_table(
            folder,
            "departments",
            ("科室编码", "科室名称", "科别", "默认", "常用诊断编码"),
            [(*DEPARTMENT, "是", "J06.900")],
        )
        doctors = gl.write_table(
            folder, "doctors", ("医师编码", "医师姓名", "科室编码", "默认"), [(*DOCTOR, DEPARTMENT[0], "是")]
        )
        clinical.import_departments(db, boss, institution_code, dept)
        clinical.import_doctors(db, boss, institution_code, doctors)


def hefei_counter(w: World) -> Actor:
    """A Hefei hospital beside the world's, its clinic, and its outpatient cashier with a shift open."""
    from counter_app.services.shift import open_shift

    with w.db.transaction() as s:
        s.add(
            Institution(
                id=2,
                code="H34010000001",
                name="合肥市第一人民医院",
                level=3,
                kind="hospital",
                designated=True,
                admdvs="340100",
                policy="hefei-2019",
            )
        )
    clinic(w.db, "H34010000001")
    hefei = w.actor("outpatient_cashier", institution="H34010000001", counter="合肥1")
    open_shift(w.db, hefei, Decimal("0.00"))
    return hefei


def go_live(db: Database) -> None:
    """Load the world's catalogue, price list, departments and doctors the way a hospital does."""
    import tempfile
    from pathlib import Path

    from counter_app.services import go_live as gl

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gl.write_download(folder, "1301", "20240101", [(n, name) for _, name, _, n, _, _ in ITEMS])
        gl.write_download(folder, "1307", "20240101", DISEASES)
        begin = {"begndate": "2020-01-01", "enddate": None, "vali_flag": "1"}
        gl.write_terms(
            folder, "1312", [{"hilist_code": n, "chrgitm_lv": lv, **begin} for _, _, _, n, lv, _ in ITEMS]
        )
        gl.write_terms(folder, "1319", [{"hilist_code": "XB02020001", "selfpay_prop": "0.20", **begin}])
        gl.write_table(
            folder,
            "price_list",
            ("医院项目编码", "项目名称", "规格", "单位", "单价", "国家医保编码", "个人账户可付"),
            [(code, name, "", "盒", price, n, pay) for code, name, price, n, _, pay in ITEMS],
        )
        gl.write_table(
            folder,
            "departments",
            ("科室编码", "科室名称", "科别", "默认", "常用诊断编码"),
            [(*DEPARTMENT, "是", "J06.900")],
        )
        gl.write_table(
            folder, "doctors", ("医师编码", "医师姓名", "科室编码", "默认"), [(*DOCTOR, DEPARTMENT[0], "是")]
        )
        gl.load_folder(db, actor(db, "supervisor"), folder, HOSPITAL)


_TEMPLATE: list[Path] = []  # an SQLite file migrated to head once per test process


def _schema_from_template(url: str) -> None:
    """A new SQLite file starts as a copy of one migrated once: running every migration takes a
    third of a second, and nearly every test builds a world. (The migrations themselves are
    tested from empty in tests/store/test_migrations.py.)"""
    if not url.startswith("sqlite:///"):
        return
    target = Path(url.removeprefix("sqlite:///"))
    if target.exists():
        return
    if not _TEMPLATE:
        import tempfile

        made = Path(tempfile.mkdtemp(prefix="world-schema-")) / "schema.sqlite3"
        Database(f"sqlite:///{made}").dispose()  # the last connection closed: the WAL is folded in
        _TEMPLATE.append(made)
    shutil.copyfile(_TEMPLATE[0], target)


def build(
    url: str, *, mother_balance: str = "500.00", father_balance: str = "300.00", open_shift: bool = True
) -> World:
    """The world in a fresh database; the cashier (w.ctx) has an open shift (float 200.00) unless told not."""
    _schema_from_template(url)
    db = Database(url)
    certnos = {
        "child": identity.make("340202", dt.date(2015, 3, 1), 22),
        "mother": identity.make("340202", dt.date(1985, 6, 2), 44),
        "father": identity.make("340202", dt.date(1983, 7, 9), 13),
        "retiree": identity.make("340203", dt.date(1958, 2, 3), 15),
        "stranger": identity.make("340207", dt.date(1990, 1, 1), 11),
    }
    with db.transaction() as s:
        s.add(
            Institution(
                id=1,
                code=HOSPITAL,
                name="芜湖市第一人民医院",
                level=3,
                kind="hospital",
                designated=True,
                admdvs="340202",
                policy="wuhu-2022",
            )
        )
        child = person(s, 1, "张小明", certnos["child"], "390")
        mother = person(s, 2, "李芳", certnos["mother"], "310", balance=mother_balance)
        father = person(s, 3, "张伟", certnos["father"], "310", balance=father_balance)
        retiree = person(
            s,
            4,
            "王建国",
            certnos["retiree"],
            "310",
            "retired",
            balance="1000.00",
            retired_on=dt.date(2018, 2, 3),
        )
        person(s, 5, "赵强", certnos["stranger"], "310", balance="50.00")
        for pid, provider, minute in ((child, mother, 0), (child, father, 1)):
            at = dt.datetime(2023, 1, 1, 9, minute)
            s.add(
                FamilyBinding(
                    provider_id=provider,
                    beneficiary_id=pid,
                    relation="child",
                    bound_at=at,
                    commitment_signed_at=at,
                    commitment_sha256="0" * 64,
                    clerk="t",
                    policy="wuhu-2022",
                )
            )
        s.add(
            YearTotal(
                person_id=retiree,
                year=2024,
                deductible_paid=Decimal("800.00"),
                outpatient_pool_paid=Decimal("0.00"),
                note="ytd",
            )
        )
        s.flush()
        adopt(s, at=dt.datetime(2024, 1, 1), staff_no="system", counter="test", action="opening", obj="world")
    go_live(db)
    ctx = actor(db, "outpatient_cashier")
    if open_shift:
        from counter_app.services.shift import open_shift as open_

        open_(db, ctx, Decimal("200.00"), now=dt.datetime(2024, 5, 10, 8, 0))
    return World(db, child, mother, father, retiree, certnos, ctx)
