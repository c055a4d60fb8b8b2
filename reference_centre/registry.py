"""The centre's insured registry: institutions, persons with their cards and e-vouchers, accounts,
bindings and year totals; loaded from a registry file or the agency's population files, asked who a
person is (1101), and moved by the settlements the books record."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from counter_app import identity
from counter_app.engine.money import ZERO
from counter_app.sync import fields as F

from .inputs import Refusal, iso_day

PSN_TYPE = {
    "in_service": "1101",
    "retired": "1201",
    "flexible": "1103",
    "flexible_combined": "1103",
    "flexible_pooling_only": "1103",
}


class Registry:
    """Who is insured and what their accounts hold, in the centre's own database."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

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
        return found["policy"] if found else None

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
        home = found["admdvs"] if found else ""
        self.db.executemany(
            "INSERT OR IGNORE INTO person (psn_no, certno, insutype, psn_type, retired_on, status, hospitalized, "
            "died_on, name, gend, brdy, insuplc_admdvs, emp_name) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, '')",
            [
                (
                    r["psn_no"],
                    r["certno"],
                    r["insutype"],
                    r["psn_type"],
                    iso_day(r["retired_on"]),
                    r["status"],
                    iso_day(r["died_on"]),
                    r["name"],
                    ("1" if identity.is_male(r["certno"]) else "2") if len(r["certno"]) == 18 else "",
                    iso_day(identity.birth_date(r["certno"])) if len(r["certno"]) == 18 else None,
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
        self.person(psn_no)
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
            if row is not None and now - dt.datetime.fromisoformat(row["issued_at"]) > dt.timedelta(
                minutes=10
            ):
                raise Refusal("医保电子凭证已过期，请患者刷新二维码后重新扫描")
        else:
            raise Refusal(f"就诊凭证类型 {kind[:3]!r} 不正确（01 电子凭证，02 身份证，03 社保卡）")
        if row is None:
            raise Refusal("未查询到参保人员信息")
        p = self.db.execute(
            "SELECT psn_no, certno, name, gend, brdy, insutype, psn_type, status, insuplc_admdvs, "
            "emp_name, retired_on FROM person WHERE psn_no = ?",
            (row["psn_no"],),
        ).fetchone()
        balance, is_open = self.balance(p["psn_no"])
        born = dt.date.fromisoformat(p["brdy"]) if p["brdy"] else None
        age = Decimal(round((now.date() - born).days / 365.25, 1)).quantize(Decimal("0.1")) if born else None
        psn_type = PSN_TYPE.get(p["psn_type"], "1101") if p["insutype"] == "310" else "1560"
        return {
            "baseinfo": {
                "psn_no": p["psn_no"],
                "psn_cert_type": "01",
                "certno": p["certno"],
                "psn_name": p["name"],
                "gend": p["gend"],
                "naty": "01",
                "brdy": p["brdy"],
                "age": age,
            },
            "insuinfo": [
                {
                    "balc": balance if is_open else Decimal("0"),
                    "insutype": p["insutype"],
                    "psn_type": psn_type,
                    "psn_insu_stas": "1" if p["status"] == "normal" else "2",
                    "psn_insu_date": None,
                    "paus_insu_date": None,
                    "cvlserv_flag": "0",
                    "insuplc_admdvs": p["insuplc_admdvs"],
                    "emp_name": p["emp_name"],
                }
            ],
            "idetinfo": [],
        }

    def institution(self, code: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT code, name, level, kind, designated, admdvs, policy FROM institution WHERE code = ?",
            (code,),
        ).fetchone()
        if row is None:
            raise Refusal(f"定点医药机构 {code} 未在本中心备案")
        return row

    def person(self, psn_no: Any) -> sqlite3.Row:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT psn_no, certno, insutype, psn_type, retired_on, status, hospitalized, died_on "
            "FROM person WHERE psn_no = ?",
            (str(psn_no),),
        ).fetchone()
        if row is None:
            raise Refusal(f"人员编号 {psn_no} 不存在")
        return row

    def balance(self, psn_no: str) -> tuple[Decimal, bool]:
        row = self.db.execute("SELECT balance, open FROM account WHERE psn_no = ?", (psn_no,)).fetchone()
        return (Decimal(row["balance"]), bool(row["open"])) if row and row["open"] else (ZERO, False)

    def ytd(self, psn_no: str, year: int) -> tuple[Decimal, Decimal, Decimal]:
        row = self.db.execute(
            "SELECT deductible, pooled, ipt_pooled FROM ytd WHERE psn_no = ? AND year = ?", (psn_no, year)
        ).fetchone()
        return tuple(Decimal(v) for v in row) if row else (ZERO, ZERO, ZERO)  # type: ignore[return-value]

    def move_ytd(self, psn_no: str, year: int, deductible: Decimal, pooled: Decimal, ipt: Decimal) -> None:
        d, p, i = self.ytd(psn_no, year)
        self.db.execute(
            "INSERT OR REPLACE INTO ytd VALUES (?, ?, ?, ?, ?)",
            (psn_no, year, str(d + deductible), str(p + pooled), str(i + ipt)),
        )

    def move_account(self, psn_no: str, amount: Decimal) -> None:
        balance, _ = self.balance(psn_no)
        if balance + amount < 0:
            raise Refusal(f"{psn_no} 个人账户余额不足")
        self.db.execute("UPDATE account SET balance = ? WHERE psn_no = ?", (str(balance + amount), psn_no))
