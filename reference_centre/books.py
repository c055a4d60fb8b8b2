"""The reference centre's books: its insured registry, visits and fee lines, and the settlements it
computes itself, as a real centre does, with the embedded engine and packs of its own.

The registry (institutions, persons, accounts, bindings, year totals, catalogue) is copied from a
counter database (`counter-app centre --registry URL`) when the centre starts; from then on the
centre keeps its own balances and totals, moved by the settlements it answers. A centre given a
pack that differs from the counter's (`--policies DIR`) disagrees with the counter, as a real one
running a newer policy would. Inpatient benefits come from `resources/centre/inpatient-training.toml`:
training values, named as such (the seeds give no inpatient numbers).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sqlite3
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from counter_app import identity
from counter_app.engine import CentreFund
from counter_app.engine import settle as engine_settle
from counter_app.engine.claim import Claim, Item, Provider, Ytd
from counter_app.engine.claim import Institution as ClaimInstitution
from counter_app.engine.claim import Person as ClaimPerson
from counter_app.engine.money import ZERO, cents
from counter_app.engine.pooling import is_retiree
from counter_app.policies import load_pack_file, policy_dir
from counter_app.resources import resource_dir
from counter_app.services.lookup import provider_relation
from counter_app.sync import fields as F
from counter_app.sync import hefei_names

SCHEMA_VERSION = 4
SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    msgid TEXT PRIMARY KEY, infno TEXT NOT NULL, fixmedins_code TEXT NOT NULL, received_at TEXT NOT NULL,
    response TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS record (
    id INTEGER PRIMARY KEY, setl_id TEXT UNIQUE NOT NULL, msgid TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, insutype TEXT NOT NULL, setl_no TEXT NOT NULL,
    setl_date TEXT NOT NULL, medfee_sumamt TEXT NOT NULL, fund_pay_sumamt TEXT NOT NULL, acct_pay TEXT NOT NULL,
    acct_mulaid_pay TEXT NOT NULL, psn_cash_pay TEXT NOT NULL, cancels TEXT, status TEXT NOT NULL,
    mdtrt_id TEXT NOT NULL, infno TEXT NOT NULL, moved TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_day ON record (fixmedins_code, setl_date);
CREATE TABLE IF NOT EXISTS institution (code TEXT PRIMARY KEY, name TEXT, level INTEGER, kind TEXT,
    designated INTEGER, admdvs TEXT, policy TEXT);
CREATE TABLE IF NOT EXISTS person (psn_no TEXT PRIMARY KEY, certno TEXT, insutype TEXT, psn_type TEXT,
    retired_on TEXT, status TEXT, hospitalized INTEGER, died_on TEXT, name TEXT NOT NULL DEFAULT '',
    gend TEXT NOT NULL DEFAULT '', brdy TEXT, insuplc_admdvs TEXT NOT NULL DEFAULT '', emp_name TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS person_certno ON person (certno);
CREATE TABLE IF NOT EXISTS card (card_no TEXT PRIMARY KEY, card_sn TEXT NOT NULL, psn_no TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS evoucher (token TEXT PRIMARY KEY, psn_no TEXT NOT NULL, issued_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (psn_no TEXT PRIMARY KEY, balance TEXT NOT NULL, open INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS binding (id INTEGER PRIMARY KEY, provider TEXT, beneficiary TEXT, relation TEXT,
    policy TEXT, UNIQUE (provider, beneficiary, relation));
CREATE TABLE IF NOT EXISTS ytd (psn_no TEXT, year INTEGER, deductible TEXT, pooled TEXT, ipt_pooled TEXT,
    PRIMARY KEY (psn_no, year));
CREATE TABLE IF NOT EXISTS catalogue (code TEXT PRIMARY KEY, name TEXT, kind TEXT, cls TEXT, prepay_ratio TEXT,
    account_payable INTEGER, price TEXT);
CREATE TABLE IF NOT EXISTS visit (mdtrt_id TEXT PRIMARY KEY, kind TEXT, psn_no TEXT, fixmedins_code TEXT,
    insutype TEXT, med_type TEXT, begntime TEXT, endtime TEXT, ipt_otp_no TEXT, status TEXT,
    deductible_taken TEXT NOT NULL DEFAULT '0.00');
CREATE TABLE IF NOT EXISTS sign_in (sign_no TEXT PRIMARY KEY, opter_no TEXT NOT NULL, fixmedins_code TEXT NOT NULL,
    ip TEXT NOT NULL, mac TEXT NOT NULL, signed_in_at TEXT NOT NULL, signed_out_at TEXT);
CREATE TABLE IF NOT EXISTS file (file_qury_no TEXT PRIMARY KEY, filename TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, kind TEXT NOT NULL, content BLOB NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fee (mdtrt_id TEXT, feedetl_sn TEXT, chrg_bchno TEXT, code TEXT, cnt TEXT, pric TEXT,
    amount TEXT, status TEXT, setl_id TEXT, rx_circ_flag TEXT, PRIMARY KEY (mdtrt_id, feedetl_sn));
"""
PSN_TYPE = {
    "in_service": "1101",
    "retired": "1201",
    "flexible": "1103",
    "flexible_combined": "1103",
    "flexible_pooling_only": "1103",
}
MED_TYPES = ("11", "12", "13", "14", "21", "28", "41", "51", "52")


class Refusal(Exception):
    """A message the centre will never accept (answered with infcode -1 and the reason)."""


@dataclass(frozen=True)
class InpatientPolicy:
    """The centre's inpatient benefits (training values: see the file)."""

    name: str
    training: bool
    annual_cap: Decimal
    deductible: dict[int, Decimal]
    ratio_in_service: dict[int, Decimal]
    ratio_retired: dict[int, Decimal]

    @staticmethod
    def load(path: Path | None = None) -> InpatientPolicy:
        path = path or resource_dir() / "centre" / "inpatient-training.toml"
        data = tomllib.loads(path.read_text(encoding="utf-8"))

        def by_level(key: str) -> dict[int, Decimal]:
            return {int(k): Decimal(v) for k, v in data[key].items()}

        return InpatientPolicy(
            data["name"],
            bool(data.get("training")),
            Decimal(data["annual_cap"]),
            by_level("deductible"),
            by_level("ratio_in_service"),
            by_level("ratio_retired"),
        )

    def tier(self, level: int) -> int:
        return min(max(level, 1), 3)


def _d(value: Any) -> Decimal:
    """An amount from the input (a JSON number read as Decimal, or int); anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise Refusal(f"金额应为数值，收到 {value!r}")
    return Decimal(value)


def _date(text: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        raise Refusal(f"时间格式应为 yyyy-MM-dd HH:mm:ss，收到 {text!r}") from None


class Books:
    """Everything the centre knows and decides; one sqlite3 connection, one transaction per message
    (the caller's)."""

    def __init__(
        self,
        db: sqlite3.Connection,
        *,
        policies: Path | None = None,
        inpatient: InpatientPolicy | None = None,
        profile: str = hefei_names.NATIONAL,
    ) -> None:
        self.db = db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        has_tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'message'").fetchone()[0]
        if has_tables and version != SCHEMA_VERSION:
            raise SystemExit("centre: this database is from an older centre; start it with a new --db file")
        db.executescript(SCHEMA)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.policies = policies or policy_dir()
        self.inpatient_policy = inpatient or InpatientPolicy.load()
        self.profile = profile
        self.serial = db.execute("SELECT count(*) FROM record").fetchone()[0]
        self.visits = db.execute("SELECT count(*) FROM visit").fetchone()[0]
        self._packs: dict[str, Any] = {}

    # ----- the registry
    def import_history(self, url: str) -> int:
        """Enter in the books the settlements and refunds a counter database holds as demo history
        (`demo-data` marks their messages sent, as if synced long ago), so that reconciling a history
        day with this centre ties, as it would have with the centre that received them. Only rows
        marked so are taken; anything a counter really sent comes through the messages. Returns the
        number entered (0 on a second start: the msgid is the key)."""
        from sqlalchemy import select

        from counter_app.services.demo_history import DEMO_RESPONSE
        from counter_app.store import Database
        from counter_app.store.models import Outbox, Person, Settlement

        src = Database(url, migrate=False, create=False)
        entered = 0
        with src.sessions() as s:
            rows = s.execute(
                select(Outbox.msgid, Outbox.infno, Settlement, Person.psn_no, Person.insutype)
                .join(Settlement, Settlement.id == Outbox.settlement_id)
                .join(Person, Person.id == Settlement.person_id)
                .where(
                    Outbox.infno.in_((*F.SETTLE_INFNOS, *F.CANCEL_INFNOS)),
                    Outbox.status == "sent",
                    Outbox.response == DEMO_RESPONSE,
                )
                .order_by(Settlement.id)
            ).all()
            for msgid, infno, row, psn_no, insutype in rows:
                if self.db.execute("SELECT 1 FROM record WHERE msgid = ?", (msgid,)).fetchone():
                    continue
                cancels = None
                if row.kind == "refund":
                    original = s.get_one(Settlement, row.reverses_id)
                    found = self.db.execute(
                        "SELECT setl_id FROM record WHERE setl_no = ?", (original.setl_no,)
                    ).fetchone()
                    cancels = found[0] if found else None
                    if cancels:
                        self.db.execute(
                            "UPDATE record SET status = 'cancelled' WHERE setl_id = ?", (cancels,)
                        )
                self.db.execute(
                    "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
                    "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status, "
                    "mdtrt_id, infno, moved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'settled', ?, ?, '{}')",
                    (
                        self._next_setl_id(),
                        msgid,
                        "cancel" if row.kind == "refund" else "settle",
                        row.institution.code,
                        psn_no,
                        insutype,
                        "" if row.kind == "refund" else row.setl_no,
                        (row.settled_at.date() if row.kind == "refund" else row.visit_date).isoformat(),
                        str(row.medfee_sumamt),
                        str(row.fund_pay_sumamt),
                        str(row.acct_pay),
                        str(row.acct_mulaid_pay),
                        str(row.psn_cash_pay),
                        cancels,
                        f"DEMO{row.setl_no}",
                        infno,
                    ),
                )
                entered += 1
        src.dispose()
        return entered

    def load_registry(self, path: Path) -> int:
        """Take the insured registry from a registry file (registry_file.py). Rows already here are
        kept (the centre's own balances and totals win). Returns the number of persons now known."""
        from counter_app import registry_file

        data = registry_file.load(path)
        self.db.executemany(
            "INSERT OR IGNORE INTO institution VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i["code"],
                    i["name"],
                    int(i["level"]),
                    i["kind"],
                    int(bool(i.get("designated", True))),
                    i["admdvs"],
                    i["policy"],
                )
                for i in data["institutions"]
            ],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO person (psn_no, certno, insutype, psn_type, retired_on, status, hospitalized, "
            "died_on, name, gend, brdy, insuplc_admdvs, emp_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    p["psn_no"],
                    p["certno"],
                    p["insutype"],
                    p["psn_type"],
                    p.get("retired_on"),
                    p["status"],
                    int(bool(p.get("hospitalized"))),
                    p.get("died_on"),
                    p["name"],
                    p.get("gend") or "",
                    p.get("brdy"),
                    p.get("insuplc_admdvs") or "",
                    p.get("emp_name") or "",
                )
                for p in data["persons"]
            ],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO card VALUES (?, ?, ?)",
            [
                (c["card_no"], c.get("card_sn") or "", p["psn_no"])
                for p in data["persons"]
                for c in p.get("cards", [])
            ],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO account VALUES (?, ?, ?)",
            [
                (p["psn_no"], p["account"]["balance"], int(bool(p["account"].get("open", True))))
                for p in data["persons"]
                if p.get("account")
            ],
        )
        home = self._home_policy()
        self.db.executemany(
            "INSERT OR IGNORE INTO binding (provider, beneficiary, relation, policy) VALUES (?, ?, ?, ?)",
            [
                (b["provider"], b["beneficiary"], b["relation"], b.get("policy") or home)
                for b in data["bindings"]
            ],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO ytd VALUES (?, ?, ?, ?, '0.00')",
            [(t["psn_no"], int(t["year"]), t["deductible"], t["pooled"]) for t in data["year_totals"]],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO catalogue VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c["code"],
                    c["name"],
                    c["kind"],
                    c["cls"],
                    str(c.get("prepay_ratio", "0")),
                    int(bool(c.get("account_payable", True))),
                    c["price"],
                )
                for c in data["catalogue"]
            ],
        )
        return int(self.db.execute("SELECT count(*) FROM person").fetchone()[0])

    def _home_policy(self) -> str | None:
        """A binding that names no policy is its region's: the centre's first institution's."""
        found = self.db.execute("SELECT policy FROM institution ORDER BY rowid LIMIT 1").fetchone()
        return found[0] if found else None

    def load_population(self, persons: Path, bindings: Path | None = None) -> int:
        """Take the insured from the agency's population files, the format a counter imports
        (services/population.py, README "Go live at a hospital"): persons with their accounts
        (the two pots as one balance) and bindings. Rows already here are kept, as with a
        registry file. A person's insured place is the centre's first institution's division."""
        from counter_app.services import population

        rows = population.read_persons(persons)  # every row checked before anything is written
        given = population.read_bindings(bindings) if bindings is not None else []
        self.db.execute("BEGIN")
        try:
            self._population(rows, given, bindings.name if bindings else "")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return int(self.db.execute("SELECT count(*) FROM person").fetchone()[0])

    def _population(self, rows: list[dict[str, Any]], given: list[Any], bindings_name: str) -> None:
        from counter_app.services.table_file import FileRefused

        found = self.db.execute("SELECT admdvs FROM institution ORDER BY rowid LIMIT 1").fetchone()
        home = found[0] if found else ""
        self.db.executemany(
            "INSERT OR IGNORE INTO person (psn_no, certno, insutype, psn_type, retired_on, status, hospitalized, "
            "died_on, name, gend, brdy, insuplc_admdvs, emp_name) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, '')",
            [
                (
                    r["psn_no"],
                    r["certno"],
                    r["insutype"],
                    r["psn_type"],
                    _iso(r["retired_on"]),
                    r["status"],
                    _iso(r["died_on"]),
                    r["name"],
                    ("1" if identity.is_male(r["certno"]) else "2") if len(r["certno"]) == 18 else "",
                    _iso(identity.birth_date(r["certno"])) if len(r["certno"]) == 18 else None,
                    home,
                )
                for r in rows
            ],
        )
        self.db.executemany(
            "INSERT OR IGNORE INTO account VALUES (?, ?, 1)",
            [
                (r["psn_no"], str(r["carried"] + r["current"]))
                for r in rows
                if r["insutype"] == "310" and r["psn_type"] != "flexible_pooling_only"
            ],
        )
        if given:
            wanted = sorted({b.provider for b in given} | {b.beneficiary for b in given})
            psn_of: dict[str, str] = {}
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                psn_of.update(
                    self.db.execute(
                        f"SELECT certno, psn_no FROM person WHERE certno IN ({','.join('?' * len(part))})",
                        part,
                    ).fetchall()
                )
            unknown = [b.line for b in given if b.provider not in psn_of or b.beneficiary not in psn_of]
            if unknown:
                raise FileRefused(
                    f"绑定文件 {bindings_name} ",
                    [f"第 {n} 行：提供人或受益人不在参保人员中" for n in unknown],
                )
            policy = self._home_policy()
            self.db.executemany(
                "INSERT OR IGNORE INTO binding (provider, beneficiary, relation, policy) VALUES (?, ?, ?, ?)",
                [(psn_of[b.provider], psn_of[b.beneficiary], b.relation, b.policy or policy) for b in given],
            )

    def issue_evoucher(self, psn_no: str, now: dt.datetime) -> str:
        """A fresh e-voucher token for a person, as the patient's app makes a new QR code for every
        scan (the province's decode service is not part of the platform spec: a training stand-in)."""
        self._person(psn_no)
        token = f"EC{secrets.token_hex(16).upper()}"
        self.db.execute("INSERT INTO evoucher VALUES (?, ?, ?)", (token, psn_no, now.isoformat()))
        return token

    def person_info(self, data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """1101: the person the credential names, as the platform answers it (baseinfo, insuinfo[],
        idetinfo[]). An e-voucher token is good for 10 minutes after it was issued."""
        kind, number = str(data.get("mdtrt_cert_type", "")), str(data.get("mdtrt_cert_no", "")).strip()
        if not number:
            raise Refusal("就诊凭证编号 mdtrt_cert_no 不能为空")
        if kind == F.CERT_ID:
            row = self.db.execute("SELECT psn_no FROM person WHERE certno = ?", (number.upper(),)).fetchone()
        elif kind == F.CERT_CARD:
            row = self.db.execute("SELECT psn_no FROM card WHERE card_no = ?", (number,)).fetchone()
        elif kind == F.CERT_EVOUCHER:
            row = self.db.execute(
                "SELECT psn_no, issued_at FROM evoucher WHERE token = ?", (number,)
            ).fetchone()
            if row is not None and now - dt.datetime.fromisoformat(row[1]) > dt.timedelta(minutes=10):
                raise Refusal("医保电子凭证已过期，请患者刷新二维码后重新扫描")
        else:
            raise Refusal(f"就诊凭证类型 {kind[:3]!r} 不正确（01 电子凭证，02 身份证，03 社保卡）")
        if row is None:
            raise Refusal("未查询到参保人员信息")
        p = self.db.execute(
            "SELECT psn_no, certno, name, gend, brdy, insutype, psn_type, status, insuplc_admdvs, "
            "emp_name, retired_on FROM person WHERE psn_no = ?",
            (row[0],),
        ).fetchone()
        balance, is_open = self._balance(p[0])
        born = dt.date.fromisoformat(p[4]) if p[4] else None
        age = Decimal(round((now.date() - born).days / 365.25, 1)).quantize(Decimal("0.1")) if born else None
        psn_type = PSN_TYPE.get(p[6], "1101") if p[5] == "310" else "1560"
        return {
            "baseinfo": {
                "psn_no": p[0],
                "psn_cert_type": "01",
                "certno": p[1],
                "psn_name": p[2],
                "gend": p[3],
                "naty": "01",
                "brdy": p[4],
                "age": age,
            },
            "insuinfo": [
                {
                    "balc": balance if is_open else Decimal("0"),
                    "insutype": p[5],
                    "psn_type": psn_type,
                    "psn_insu_stas": "1" if p[7] == "normal" else "2",
                    "psn_insu_date": None,
                    "paus_insu_date": None,
                    "cvlserv_flag": "0",
                    "insuplc_admdvs": p[8],
                    "emp_name": p[9],
                }
            ],
            "idetinfo": [],
        }

    def pack(self, pack_id: str) -> Any:
        if pack_id not in self._packs:
            self._packs[pack_id] = load_pack_file(self.policies / f"{pack_id}.toml")
        return self._packs[pack_id]

    def _institution(self, code: str) -> tuple[Any, ...]:
        row = self.db.execute(
            "SELECT code, name, level, kind, designated, admdvs, policy FROM institution WHERE code = ?",
            (code,),
        ).fetchone()
        if row is None:
            raise Refusal(f"定点医药机构 {code} 未在本中心备案")
        return tuple(row)

    def _person(self, psn_no: Any) -> tuple[Any, ...]:
        row = self.db.execute(
            "SELECT psn_no, certno, insutype, psn_type, retired_on, status, hospitalized, died_on "
            "FROM person WHERE psn_no = ?",
            (str(psn_no),),
        ).fetchone()
        if row is None:
            raise Refusal(f"人员编号 {psn_no} 不存在")
        return tuple(row)

    def _balance(self, psn_no: str) -> tuple[Decimal, bool]:
        row = self.db.execute("SELECT balance, open FROM account WHERE psn_no = ?", (psn_no,)).fetchone()
        return (Decimal(row[0]), bool(row[1])) if row and row[1] else (ZERO, False)

    def _ytd(self, psn_no: str, year: int) -> tuple[Decimal, Decimal, Decimal]:
        row = self.db.execute(
            "SELECT deductible, pooled, ipt_pooled FROM ytd WHERE psn_no = ? AND year = ?", (psn_no, year)
        ).fetchone()
        return tuple(Decimal(v) for v in row) if row else (ZERO, ZERO, ZERO)  # type: ignore[return-value]

    def _move_ytd(self, psn_no: str, year: int, deductible: Decimal, pooled: Decimal, ipt: Decimal) -> None:
        d, p, i = self._ytd(psn_no, year)
        self.db.execute(
            "INSERT OR REPLACE INTO ytd VALUES (?, ?, ?, ?, ?)",
            (psn_no, year, str(d + deductible), str(p + pooled), str(i + ipt)),
        )

    def _move_account(self, psn_no: str, amount: Decimal) -> None:
        balance, _ = self._balance(psn_no)
        if balance + amount < 0:
            raise Refusal(f"{psn_no} 个人账户余额不足")
        self.db.execute("UPDATE account SET balance = ? WHERE psn_no = ?", (str(balance + amount), psn_no))

    def _claim(
        self,
        inst: tuple[Any, ...],
        person: tuple[Any, ...],
        med_type: str,
        day: dt.date,
        fees: list[tuple[Any, ...]],
        use_account: bool,
        prescribing_level: int | None,
    ) -> Claim:
        """The engine's claim from the centre's own registry and the visit's fee lines."""
        psn_no = person[0]
        own, _ = self._balance(psn_no) if person[2] == "310" else (ZERO, False)
        family = []
        for provider, relation in self.db.execute(
            "SELECT provider, relation FROM binding WHERE beneficiary = ? AND policy = ? ORDER BY id",
            (psn_no, inst[6]),
        ):
            p = self._person(provider)
            balance, is_open = self._balance(provider)
            if not is_open:
                continue  # HF-2.2
            died = _date(p[7]) if p[7] else None
            if relation == "self":  # HF-2.1
                family.append(Provider(p[0], "self", "310", "suspended", balance, died))
                own = ZERO
            else:
                family.append(Provider(p[0], provider_relation(relation, p[1]), p[2], p[5], balance, died))
        items = []
        for code, amount in ((f[3], Decimal(f[6])) for f in fees):
            cat = self.db.execute(
                "SELECT cls, prepay_ratio, account_payable, name FROM catalogue WHERE code = ?", (code,)
            ).fetchone()
            if cat is None:
                raise Refusal(f"医保目录中没有编码 {code}")
            items.append(
                Item(code, cat[3], cat[0], amount, Decimal(cat[1]) if cat[0] == "B" else ZERO, bool(cat[2]))
            )
        ded, pooled, _ = self._ytd(psn_no, day.year)
        return Claim(
            policy=inst[6],
            visit_date=day,
            med_type=med_type,
            institution=ClaimInstitution(inst[0], inst[2], inst[3], bool(inst[4])),
            prescribing_level=prescribing_level,
            location="local",
            person=ClaimPerson(
                psn_no,
                person[2],
                person[3],
                _date(person[4]) if person[4] else None,
                person[5],
                bool(person[6]),
                own,
                Ytd(day.year, ded, pooled),
            ),
            family=tuple(family),
            items=tuple(items),
            use_own_account=use_account,
            use_family_account=use_account,
        )

    # ----- fee lines
    def classify(self, code: str, amount: Decimal, cnt: Decimal, pric: Decimal, sn: str) -> dict[str, Any]:
        """One fee line as 2204 / 2301 answer it: class C is full self-pay, class B pre-pays its share."""
        cat = self.db.execute(
            "SELECT cls, prepay_ratio, kind FROM catalogue WHERE code = ?", (code,)
        ).fetchone()
        if cat is None:
            raise Refusal(f"医保目录中没有编码 {code}")
        cls, ratio = cat[0], Decimal(cat[1]) if cat[0] == "B" else ZERO
        full = amount if cls == "C" else ZERO
        pre = cents(amount * ratio)
        return {
            "feedetl_sn": sn,
            "det_item_fee_sumamt": amount,
            "cnt": cnt,
            "pric": pric,
            "pric_uplmt_amt": ZERO,
            "selfpay_prop": Decimal(1) if cls == "C" else ratio,
            "fulamt_ownpay_amt": full,
            "overlmt_amt": ZERO,
            "preselfpay_amt": pre,
            "inscp_scp_amt": amount - full - pre,
            "chrgitm_lv": F.CHRGITM_LV[cls],
            "med_chrgitm_type": F.MED_CHRGITM_TYPE.get(cat[2], "14"),
            "lmt_used_flag": "0",
        }

    def _add_fees(self, mdtrt_id: str, lines: list[dict[str, Any]], batch: str) -> list[dict[str, Any]]:
        out = []
        for ln in lines:
            sn = str(ln["feedetl_sn"])
            if self.db.execute(
                "SELECT 1 FROM fee WHERE mdtrt_id = ? AND feedetl_sn = ?", (mdtrt_id, sn)
            ).fetchone():
                raise Refusal(f"费用明细流水号 {sn} 重复上传")
            amount, cnt, pric = _d(ln["det_item_fee_sumamt"]), _d(ln["cnt"]), _d(ln["pric"])
            if amount != cents(cnt * pric):
                raise Refusal(f"明细 {sn}：金额 {amount} ≠ 数量 {cnt} × 单价 {pric}")
            out.append(self.classify(str(ln["med_list_codg"]), amount, cnt, pric, sn))
            self.db.execute(
                "INSERT INTO fee VALUES (?, ?, ?, ?, ?, ?, ?, 'valid', NULL, ?)",
                (
                    mdtrt_id,
                    sn,
                    batch,
                    ln["med_list_codg"],
                    str(cnt),
                    str(pric),
                    str(amount),
                    str(ln.get("rx_circ_flag", "0")),
                ),
            )
        return out

    def _visit(self, mdtrt_id: Any, code: str, psn_no: Any, kind: str) -> tuple[Any, ...]:
        row = self.db.execute(
            "SELECT mdtrt_id, kind, psn_no, fixmedins_code, insutype, med_type, begntime, endtime, "
            "ipt_otp_no, status, deductible_taken FROM visit WHERE mdtrt_id = ?",
            (str(mdtrt_id),),
        ).fetchone()
        if row is None or row[3] != code or row[1] != kind:
            raise Refusal(f"就诊ID {mdtrt_id} 不存在")
        if row[2] != psn_no:
            raise Refusal(f"就诊ID {mdtrt_id} 不属于人员 {psn_no}")
        return tuple(row)

    def _new_visit(self, kind: str, code: str, data: dict[str, Any], ipt_otp_no: str, med_type: str) -> str:
        person = self._person(data["psn_no"])
        if data.get("insutype") and data["insutype"] != person[2]:
            raise Refusal(f"险种 {data['insutype']} 与参保信息（{person[2]}）不符")
        if med_type not in MED_TYPES:
            raise Refusal(f"未知的医疗类别 {med_type}")
        _date(data["begntime"])
        self.visits += 1
        mdtrt_id = f"{kind[0].upper()}{code[-6:]}{self.visits:010d}"
        self.db.execute(
            "INSERT INTO visit VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, 'open', '0.00')",
            (mdtrt_id, kind, person[0], code, person[2], med_type, data["begntime"], ipt_otp_no),
        )
        return mdtrt_id

    # ----- settlements
    def _setlinfo(
        self,
        *,
        env: dict[str, Any],
        visit: tuple[Any, ...],
        person: tuple[Any, ...],
        result: Any,
        setl_id: str,
        clr_type: str,
        inst: tuple[Any, ...],
    ) -> dict[str, Any]:
        info = {
            "mdtrt_id": visit[0],
            "setl_id": setl_id,
            "psn_no": person[0],
            "insutype": person[2],
            "psn_type": PSN_TYPE.get(person[3], "1101"),
            "med_type": visit[5],
            "setl_time": env["inf_time"],
            **{
                k: getattr(result, k) for k in ("medfee_sumamt", *F.SCOPE_AMOUNTS, "act_pay_dedc", "hifp_pay")
            },
            "pool_prop_selfpay": result.pool_prop_selfpay,
            "cvlserv_pay": ZERO,
            "hifes_pay": ZERO,
            "hifmi_pay": ZERO,
            "hifob_pay": ZERO,
            "maf_pay": ZERO,
            "oth_pay": ZERO,
            "fund_pay_sumamt": result.fund_pay_sumamt,
            "psn_part_amt": result.psn_part_amt,
            "acct_pay": result.acct_pay,
            "psn_cash_pay": result.psn_cash_pay,
            "hosp_part_amt": ZERO,
            "balc": result.balc,
            "acct_mulaid_pay": result.acct_mulaid_pay,
            "medins_setl_id": env["msgid"],
            "clr_optins": inst[5],
            "clr_way": "1",
            "clr_type": clr_type,
        }
        if self.profile == hefei_names.HEFEI_LEGACY:  # HF-A: the older centre's name for the family amount
            info[hefei_names.family_amount_name(person[2], visit[5], False)] = info.pop("acct_mulaid_pay")
        return info

    def _detail(self, person: tuple[Any, ...], result: Any) -> list[dict[str, Any]]:
        out = []
        if result.hifp_pay:
            resident = person[2] == "390"
            out.append(
                {
                    "fund_pay_type": F.FUND_RESIDENT_POOLING if resident else F.FUND_EMPLOYEE_POOLING,
                    "inscp_scp_amt": result.inscp_scp_amt,
                    "crt_payb_lmt_amt": ZERO,
                    "fund_payamt": result.hifp_pay,
                    "fund_pay_type_name": "统筹基金",
                    "setl_proc_info": "",
                }
            )
        if result.acct_pay:
            out.append(
                {
                    "fund_pay_type": F.FUND_EMPLOYEE_ACCOUNT,
                    "inscp_scp_amt": ZERO,
                    "crt_payb_lmt_amt": ZERO,
                    "fund_payamt": result.acct_pay,
                    "fund_pay_type_name": "个人账户",
                    "setl_proc_info": "",
                }
            )
        return out

    def _next_setl_id(self) -> str:
        self.serial += 1
        return f"C{self.serial:012d}"

    def _apply(
        self,
        env: dict[str, Any],
        infno: str,
        visit: tuple[Any, ...],
        person: tuple[Any, ...],
        result: Any,
        fees: list[tuple[Any, ...]],
        setl_no: str,
        *,
        ipt: bool,
    ) -> str:
        """Move the centre's own balances and totals, mark the lines settled, keep the record."""
        setl_id = self._next_setl_id()
        year = _date(visit[7] or visit[6] if ipt else visit[6]).year
        moved = {
            "own": str(result.own_acct_pay),
            "family": [[d.psn_no, str(d.paid)] for d in result.mulaid],
            "deductible": str(result.act_pay_dedc),
            "fund": str(result.hifp_pay),
            "ipt": ipt,
            "year": year,
            "fees": [f[1] for f in fees],
        }
        if result.own_acct_pay:
            self._move_account(person[0], -result.own_acct_pay)
        for draw in result.mulaid:
            self._move_account(draw.psn_no, -draw.paid)
        if ipt:
            self._move_ytd(person[0], year, ZERO, ZERO, result.hifp_pay)
            self.db.execute(
                "UPDATE visit SET deductible_taken = ? WHERE mdtrt_id = ?",
                (str(Decimal(visit[10]) + result.act_pay_dedc), visit[0]),
            )
        else:
            self._move_ytd(person[0], year, result.act_pay_dedc, result.hifp_pay, ZERO)
        self.db.executemany(
            "UPDATE fee SET status = 'settled', setl_id = ? WHERE mdtrt_id = ? AND feedetl_sn = ?",
            [(setl_id, visit[0], f[1]) for f in fees],
        )
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status, mdtrt_id, "
            "infno, moved) VALUES (?, ?, 'settle', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'settled', ?, ?, ?)",
            (
                setl_id,
                env["msgid"],
                env["fixmedins_code"],
                person[0],
                person[2],
                setl_no,
                # dated by the visit (the counter settled then, offline or not); a stay by its discharge
                str(visit[7] or env["inf_time"] if ipt else visit[6])[:10],
                str(result.medfee_sumamt),
                str(result.fund_pay_sumamt),
                str(result.acct_pay),
                str(result.acct_mulaid_pay),
                str(result.psn_cash_pay),
                visit[0],
                infno,
                json.dumps(moved),
            ),
        )
        return setl_id

    def outpatient(self, env: dict[str, Any], data: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """2206 / 2207: the centre's own split of the visit's uploaded lines."""
        code = env["fixmedins_code"]
        person = self._person(data["psn_no"])
        visit = self._visit(data["mdtrt_id"], code, person[0], "otp")
        if visit[9] != "open":
            raise Refusal(
                f"就诊 {visit[0]} 已{ {'settled': '结算', 'cancelled': '撤销'}.get(visit[9], visit[9]) }"
            )
        fees = self.db.execute(
            "SELECT * FROM fee WHERE mdtrt_id = ? AND chrg_bchno = ? AND status = 'valid' ORDER BY rowid",
            (visit[0], str(data["chrg_bchno"])),
        ).fetchall()
        if not fees:
            raise Refusal(f"收费批次 {data['chrg_bchno']} 不存在或没有可结算的明细")
        return self._settle(
            env,
            data,
            visit,
            person,
            fees,
            final=final,
            infno=F.OUTPATIENT_SETTLE,
            setl_no=str(data.get("invono", "")),
        )

    def _settle(
        self,
        env: dict[str, Any],
        data: dict[str, Any],
        visit: tuple[Any, ...],
        person: tuple[Any, ...],
        fees: list[tuple[Any, ...]],
        *,
        final: bool,
        infno: str,
        setl_no: str,
    ) -> dict[str, Any]:
        inst = self._institution(env["fixmedins_code"])
        total = sum((Decimal(f[6]) for f in fees), ZERO)
        if _d(data["medfee_sumamt"]) != total:
            raise Refusal(f"medfee_sumamt {data['medfee_sumamt']} 与上传明细合计 {total} 不符")
        outside = any(f[9] == "1" for f in fees)
        # an outside prescription's issuing level comes from the prescription platform; here: level 2
        claim = self._claim(
            inst,
            person,
            visit[5],
            _date(visit[6]),
            fees,
            data["acct_used_flag"] == "1",
            2 if outside else None,
        )
        try:
            result = engine_settle(claim, self.pack(inst[6]))
        except Exception as exc:  # noqa: BLE001 - the engine's refusal is the centre's answer
            raise Refusal(f"无法结算：{exc}") from None
        setl_id = ""
        if final:
            setl_id = self._apply(env, infno, visit, person, result, fees, setl_no, ipt=False)
            self.db.execute("UPDATE visit SET status = 'settled' WHERE mdtrt_id = ?", (visit[0],))
        clr = "41" if infno == F.PHARMACY_SETTLE else "11"
        return {
            "setlinfo": self._setlinfo(
                env=env, visit=visit, person=person, result=result, setl_id=setl_id, clr_type=clr, inst=inst
            ),
            "setldetail": self._detail(person, result),
        }

    def pharmacy(self, env: dict[str, Any], given: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """2101 / 2102: a pharmacy registers no visit; the centre opens and settles one at once."""
        info, lines = given["druginfo"], given["drugdetail"]
        if not lines:
            raise Refusal("drugdetail 为空")
        inst = self._institution(env["fixmedins_code"])
        if inst[3] != "pharmacy":
            raise Refusal("2101/2102 只用于定点零售药店")
        mdtrt_id = self._new_visit("drug", inst[0], info, str(info.get("invono", "")), str(info["med_type"]))
        person = self._person(info["psn_no"])
        visit = self._visit(mdtrt_id, inst[0], person[0], "drug")
        self._add_fees(mdtrt_id, lines, mdtrt_id)
        fees = self.db.execute("SELECT * FROM fee WHERE mdtrt_id = ? ORDER BY rowid", (mdtrt_id,)).fetchall()
        out = self._settle(
            env,
            info,
            visit,
            person,
            fees,
            final=final,
            infno=F.PHARMACY_SETTLE,
            setl_no=str(info.get("invono", "")),
        )
        if not final:  # a pre-settlement leaves nothing behind
            self.db.execute("DELETE FROM fee WHERE mdtrt_id = ?", (mdtrt_id,))
            self.db.execute("DELETE FROM visit WHERE mdtrt_id = ?", (mdtrt_id,))
        return out

    def cancel(self, env: dict[str, Any], data: dict[str, Any], infno: str) -> dict[str, Any]:
        """2208 / 2103 / 2305: reverse everything the original moved; amounts come back negated."""
        original = self.db.execute(
            "SELECT setl_id, psn_no, insutype, medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, "
            "psn_cash_pay, status, mdtrt_id, moved FROM record WHERE setl_id = ? AND fixmedins_code = ? "
            "AND kind = 'settle'",
            (str(data.get("setl_id")), env["fixmedins_code"]),
        ).fetchone()
        if original is None:
            raise Refusal(f"原结算 {data.get('setl_id')} 不存在")
        if original[1] != data.get("psn_no"):
            raise Refusal("撤销的人员编号与原结算不符")
        if data.get("mdtrt_id") and data["mdtrt_id"] != original[9]:
            raise Refusal("撤销的就诊ID与原结算不符")
        if original[8] != "settled":
            raise Refusal(f"原结算 {original[0]} 已{'撤销' if original[8] == 'cancelled' else '冲正'}")
        self._unmove(original[1], original[9], json.loads(original[10]))
        setl_id = self._next_setl_id()
        negated = [str(ZERO - Decimal(v)) for v in original[3:8]]
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status, mdtrt_id, "
            "infno, moved) VALUES (?, ?, 'cancel', ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, 'settled', ?, ?, '{}')",
            (
                setl_id,
                env["msgid"],
                env["fixmedins_code"],
                original[1],
                original[2],
                env["inf_time"][:10],
                *negated,
                original[0],
                original[9],
                infno,
            ),
        )
        self.db.execute("UPDATE record SET status = 'cancelled' WHERE setl_id = ?", (original[0],))
        keys = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
        return {
            "setlinfo": {
                **dict(zip(keys, (Decimal(v) for v in negated), strict=False)),
                "setl_id": setl_id,
                "psn_no": original[1],
                "mdtrt_id": original[9],
            }
        }

    def _unmove(self, psn_no: str, mdtrt_id: str, moved: dict[str, Any]) -> None:
        if Decimal(moved["own"]):
            self._move_account(psn_no, Decimal(moved["own"]))
        for provider, paid in moved["family"]:
            self._move_account(provider, Decimal(paid))
        if moved["ipt"]:
            self.db.execute("UPDATE visit SET status = 'open' WHERE mdtrt_id = ?", (mdtrt_id,))
            self._move_ytd(psn_no, moved["year"], ZERO, ZERO, -Decimal(moved["fund"]))
            self.db.execute(
                "UPDATE visit SET deductible_taken = ? WHERE mdtrt_id = ?",
                (
                    str(
                        Decimal(
                            self.db.execute(
                                "SELECT deductible_taken FROM visit WHERE mdtrt_id = ?", (mdtrt_id,)
                            ).fetchone()[0]
                        )
                        - Decimal(moved["deductible"])
                    ),
                    mdtrt_id,
                ),
            )
        else:
            self._move_ytd(
                psn_no, moved["year"], -Decimal(moved["deductible"]), -Decimal(moved["fund"]), ZERO
            )
            self.db.execute("UPDATE visit SET status = 'cancelled' WHERE mdtrt_id = ?", (mdtrt_id,))
        self.db.executemany(
            "UPDATE fee SET status = ?, setl_id = NULL WHERE mdtrt_id = ? AND feedetl_sn = ?",
            [("valid" if moved["ipt"] else "cancelled", mdtrt_id, sn) for sn in moved["fees"]],
        )

    # ----- outpatient visits
    def register(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        inst = self._institution(env["fixmedins_code"])
        mdtrt_id = self._new_visit("otp", inst[0], data, str(data["ipt_otp_no"]), "11")
        return {"data": {"mdtrt_id": mdtrt_id, "psn_no": data["psn_no"], "ipt_otp_no": data["ipt_otp_no"]}}

    def visit_info(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        info = given["mdtrtinfo"]
        visit = self._visit(info["mdtrt_id"], env["fixmedins_code"], info["psn_no"], "otp")
        if info["med_type"] not in MED_TYPES:
            raise Refusal(f"未知的医疗类别 {info['med_type']}")
        self.db.execute("UPDATE visit SET med_type = ? WHERE mdtrt_id = ?", (info["med_type"], visit[0]))
        return {}

    def fees(self, env: dict[str, Any], given: dict[str, Any], kind: str) -> dict[str, Any]:
        """2204 / 2301: fee lines for a visit or stay, each classed from the centre's catalogue."""
        lines = given["feedetail"]
        if not lines:
            raise Refusal("feedetail 为空")
        first = lines[0]
        visit = self._visit(first["mdtrt_id"], env["fixmedins_code"], first["psn_no"], kind)
        if visit[9] not in ("open",) or (kind == "ipt" and visit[7]):
            raise Refusal(f"就诊 {visit[0]} 已结束，不能再上传费用")
        if any(ln["mdtrt_id"] != visit[0] for ln in lines):
            raise Refusal("一次上传的明细应属于同一就诊")
        return {"result": self._add_fees(visit[0], lines, str(first.get("chrg_bchno", "")))}

    def cancel_fees(self, env: dict[str, Any], data: dict[str, Any], kind: str) -> dict[str, Any]:
        """2205 (by charge batch) / 2302 (by line, 0000 for all): only lines not yet settled."""
        visit = self._visit(data["mdtrt_id"], env["fixmedins_code"], data["psn_no"], kind)
        if kind == "otp":
            where, args = "chrg_bchno = ?", (str(data["chrg_bchno"]),)
        elif data["feedetl_sn"] == "0000":
            where, args = "1 = 1", ()  # type: ignore[assignment]  # no parameter for all lines
        else:
            where, args = "feedetl_sn = ?", (str(data["feedetl_sn"]),)
        rows = self.db.execute(
            f"SELECT feedetl_sn, status FROM fee WHERE mdtrt_id = ? AND {where}", (visit[0], *args)
        ).fetchall()
        if not rows:
            raise Refusal("没有要撤销的费用明细")
        if any(status == "settled" for _, status in rows):
            raise Refusal("已结算的明细不能撤销")
        self.db.execute(
            f"UPDATE fee SET status = 'cancelled' WHERE mdtrt_id = ? AND {where}", (visit[0], *args)
        )
        return {}

    def register_cancel(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        visit = self._visit(data["mdtrt_id"], env["fixmedins_code"], data["psn_no"], "otp")
        if visit[9] == "settled":
            raise Refusal("已结算的就诊不能撤销登记")
        self.db.execute("UPDATE visit SET status = 'cancelled' WHERE mdtrt_id = ?", (visit[0],))
        return {}

    # ----- inpatient stays
    def admit(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        info = given["mdtrtinfo"]
        inst = self._institution(env["fixmedins_code"])
        person = self._person(info["psn_no"])
        if not str(info.get("ipt_no", "")).strip():
            raise Refusal("住院号 ipt_no 不能为空")
        if self.db.execute(
            "SELECT 1 FROM visit WHERE kind = 'ipt' AND psn_no = ? AND status = 'open' AND endtime IS NULL",
            (person[0],),
        ).fetchone():
            raise Refusal(f"{person[0]} 已在院")
        mdtrt_id = self._new_visit("ipt", inst[0], info, "", str(info["med_type"]))
        self.db.execute("UPDATE person SET hospitalized = 1 WHERE psn_no = ?", (person[0],))
        return {"result": {"mdtrt_id": mdtrt_id, "psn_no": person[0], "ipt_otp_no": ""}}

    def discharge(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        """2402: the stay ends (again: the same end time is accepted, so a retried discharge is harmless)."""
        info = given["dscginfo"]  # 2402's node (national-interface.md: not mdtrtinfo)
        visit = self._visit(info["mdtrt_id"], env["fixmedins_code"], info["psn_no"], "ipt")
        if visit[9] != "open":
            raise Refusal(f"住院 {visit[0]} 已结算")
        if _date(info["endtime"]) < _date(visit[6]):
            raise Refusal("出院时间早于入院时间")
        self.db.execute("UPDATE visit SET endtime = ? WHERE mdtrt_id = ?", (info["endtime"], visit[0]))
        self.db.execute("UPDATE person SET hospitalized = 0 WHERE psn_no = ?", (visit[2],))
        return {}

    def discharge_cancel(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        visit = self._visit(data["mdtrt_id"], env["fixmedins_code"], data["psn_no"], "ipt")
        if visit[9] != "open":
            raise Refusal(f"住院 {visit[0]} 已结算，先撤销结算")
        self.db.execute("UPDATE visit SET endtime = NULL WHERE mdtrt_id = ?", (visit[0],))
        self.db.execute("UPDATE person SET hospitalized = 1 WHERE psn_no = ?", (visit[2],))
        return {}

    def inpatient(self, env: dict[str, Any], data: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """2303 / 2304: deductible per admission by level, ratio by level and retirement, the annual
        cap, class-B pre-pay, class-C self-pay (training values); then the accounts as outpatient."""
        code = env["fixmedins_code"]
        person = self._person(data["psn_no"])
        visit = self._visit(data["mdtrt_id"], code, person[0], "ipt")
        interim = data["mid_setl_flag"] == "1"
        if visit[9] != "open":
            raise Refusal(f"住院 {visit[0]} 已结算")
        if not interim and not visit[7]:
            raise Refusal("未办理出院（2402），不能出院结算")
        fees = self.db.execute(
            "SELECT * FROM fee WHERE mdtrt_id = ? AND status = 'valid' ORDER BY rowid", (visit[0],)
        ).fetchall()
        if not fees:
            raise Refusal("没有未结算的费用明细")
        inst = self._institution(code)
        total = sum((Decimal(f[6]) for f in fees), ZERO)
        if _d(data["medfee_sumamt"]) != total:
            raise Refusal(f"medfee_sumamt {data['medfee_sumamt']} 与上传明细合计 {total} 不符")
        day = _date(visit[7] or env["inf_time"])
        claim = self._claim(inst, person, visit[5], day, fees, data["acct_used_flag"] == "1", None)
        parts = [self.classify(f[3], Decimal(f[6]), Decimal(f[4]), Decimal(f[5]), f[1]) for f in fees]
        scope = sum((p["inscp_scp_amt"] for p in parts), ZERO)
        policy = self.inpatient_policy
        tier = policy.tier(inst[2])
        deductible = min(scope, max(ZERO, policy.deductible[tier] - Decimal(visit[10])))
        retired = is_retiree(claim.person, day)
        ratio = (policy.ratio_retired if retired else policy.ratio_in_service)[tier]
        room = max(ZERO, policy.annual_cap - self._ytd(person[0], day.year)[2])
        fund = min(cents((scope - deductible) * ratio), room)
        note = (
            f"{policy.name}：起付线 {policy.deductible[tier]}（本次 {deductible}），"
            f"{'退休' if retired else '在职'}报销比例 {ratio}，年度限额余 {room}"
        )
        try:
            result = engine_settle(claim, self.pack(inst[6]), CentreFund(fund, deductible, ratio, note))
        except Exception as exc:  # noqa: BLE001
            raise Refusal(f"无法结算：{exc}") from None
        setl_id = ""
        if final:
            setl_id = self._apply(
                env, F.INPATIENT_SETTLE, visit, person, result, fees, str(data["invono"]), ipt=True
            )
            if not interim:
                self.db.execute("UPDATE visit SET status = 'settled' WHERE mdtrt_id = ?", (visit[0],))
        return {
            "setlinfo": self._setlinfo(
                env=env, visit=visit, person=person, result=result, setl_id=setl_id, clr_type="21", inst=inst
            ),
            "setldetail": self._detail(person, result),
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
