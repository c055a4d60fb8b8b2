"""The reference centre's books: visits and fee lines, and the settlements it computes itself, as a
real centre does, with the embedded engine and packs of its own.

Who is insured (institutions, persons, accounts, bindings, year totals, catalogue) is the
registry's (registry.py), loaded from a registry file or the agency's population files when the
centre starts; from then on the centre keeps its own balances and totals, moved by the
settlements it answers. A centre given a
pack that differs from the counter's (`--policies DIR`) disagrees with the counter, as a real one
running a newer policy would. Inpatient benefits come from `resources/centre/inpatient-training.toml`:
training values, named as such (the seeds give no inpatient numbers).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from counter_app.engine import CentreFund
from counter_app.engine import settle as engine_settle
from counter_app.engine.claim import Claim, ClaimInstitution, ClaimPerson, Item, Provider, Ytd
from counter_app.engine.money import ZERO, cents
from counter_app.engine.pooling import is_retiree
from counter_app.policies import load_pack_file, policy_dir
from counter_app.resources import resource_dir
from counter_app.services.lookup import provider_relation
from counter_app.sync import fields as F
from counter_app.sync import hefei_names

from .inputs import Refusal, date_in, money_in
from .registry import PSN_TYPE, Registry

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
MED_TYPES = ("11", "12", "13", "14", "21", "28", "41", "51", "52")


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
        db.row_factory = sqlite3.Row  # rows by column name: a column added to a query breaks nothing
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
        self.registry = Registry(db)

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
                    cancels = found["setl_id"] if found else None
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

    def pack(self, pack_id: str) -> Any:
        if pack_id not in self._packs:
            self._packs[pack_id] = load_pack_file(self.policies / f"{pack_id}.toml")
        return self._packs[pack_id]

    def _claim(
        self,
        inst: sqlite3.Row,
        person: sqlite3.Row,
        med_type: str,
        day: dt.date,
        fees: list[sqlite3.Row],
        use_account: bool,
        prescribing_level: int | None,
    ) -> Claim:
        """The engine's claim from the centre's own registry and the visit's fee lines."""
        psn_no = person["psn_no"]
        own, _ = self.registry.balance(psn_no) if person["insutype"] == "310" else (ZERO, False)
        family = []
        for provider, relation in self.db.execute(
            "SELECT provider, relation FROM binding WHERE beneficiary = ? AND policy = ? ORDER BY id",
            (psn_no, inst["policy"]),
        ):
            p = self.registry.person(provider)
            balance, is_open = self.registry.balance(provider)
            if not is_open:
                continue  # HF-2.2
            died = date_in(p["died_on"]) if p["died_on"] else None
            if relation == "self":  # HF-2.1
                family.append(Provider(p["psn_no"], "self", "310", "suspended", balance, died))
                own = ZERO
            else:
                family.append(
                    Provider(
                        p["psn_no"],
                        provider_relation(relation, p["certno"]),
                        p["insutype"],
                        p["status"],
                        balance,
                        died,
                    )
                )
        items = []
        for code, amount in ((f["code"], Decimal(f["amount"])) for f in fees):
            cat = self.db.execute(
                "SELECT cls, prepay_ratio, account_payable, name FROM catalogue WHERE code = ?", (code,)
            ).fetchone()
            if cat is None:
                raise Refusal(f"医保目录中没有编码 {code}")
            items.append(
                Item(
                    code,
                    cat["name"],
                    cat["cls"],
                    amount,
                    Decimal(cat["prepay_ratio"]) if cat["cls"] == "B" else ZERO,
                    bool(cat["account_payable"]),
                )
            )
        ded, pooled, _ = self.registry.ytd(psn_no, day.year)
        return Claim(
            policy=inst["policy"],
            visit_date=day,
            med_type=med_type,
            institution=ClaimInstitution(inst["code"], inst["level"], inst["kind"], bool(inst["designated"])),
            prescribing_level=prescribing_level,
            location="local",
            person=ClaimPerson(
                psn_no,
                person["insutype"],
                person["psn_type"],
                date_in(person["retired_on"]) if person["retired_on"] else None,
                person["status"],
                bool(person["hospitalized"]),
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
        cls, ratio = cat["cls"], Decimal(cat["prepay_ratio"]) if cat["cls"] == "B" else ZERO
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
            "med_chrgitm_type": F.MED_CHRGITM_TYPE.get(cat["kind"], "14"),
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
            amount, cnt, pric = money_in(ln["det_item_fee_sumamt"]), money_in(ln["cnt"]), money_in(ln["pric"])
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

    def _visit(self, mdtrt_id: Any, code: str, psn_no: Any, kind: str) -> sqlite3.Row:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT mdtrt_id, kind, psn_no, fixmedins_code, insutype, med_type, begntime, endtime, "
            "ipt_otp_no, status, deductible_taken FROM visit WHERE mdtrt_id = ?",
            (str(mdtrt_id),),
        ).fetchone()
        if row is None or row["fixmedins_code"] != code or row["kind"] != kind:
            raise Refusal(f"就诊ID {mdtrt_id} 不存在")
        if row["psn_no"] != psn_no:
            raise Refusal(f"就诊ID {mdtrt_id} 不属于人员 {psn_no}")
        return row

    def _new_visit(self, kind: str, code: str, data: dict[str, Any], ipt_otp_no: str, med_type: str) -> str:
        person = self.registry.person(data["psn_no"])
        if data.get("insutype") and data["insutype"] != person["insutype"]:
            raise Refusal(f"险种 {data['insutype']} 与参保信息（{person['insutype']}）不符")
        if med_type not in MED_TYPES:
            raise Refusal(f"未知的医疗类别 {med_type}")
        date_in(data["begntime"])
        self.visits += 1
        mdtrt_id = f"{kind[0].upper()}{code[-6:]}{self.visits:010d}"
        self.db.execute(
            "INSERT INTO visit VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, 'open', '0.00')",
            (
                mdtrt_id,
                kind,
                person["psn_no"],
                code,
                person["insutype"],
                med_type,
                data["begntime"],
                ipt_otp_no,
            ),
        )
        return mdtrt_id

    # ----- settlements
    def _setlinfo(
        self,
        *,
        env: dict[str, Any],
        visit: sqlite3.Row,
        person: sqlite3.Row,
        result: Any,
        setl_id: str,
        clr_type: str,
        inst: sqlite3.Row,
    ) -> dict[str, Any]:
        info = {
            "mdtrt_id": visit["mdtrt_id"],
            "setl_id": setl_id,
            "psn_no": person["psn_no"],
            "insutype": person["insutype"],
            "psn_type": PSN_TYPE.get(person["psn_type"], "1101"),
            "med_type": visit["med_type"],
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
            "clr_optins": inst["admdvs"],
            "clr_way": "1",
            "clr_type": clr_type,
        }
        if self.profile == hefei_names.HEFEI_LEGACY:  # HF-A: the older centre's name for the family amount
            info[hefei_names.family_amount_name(person["insutype"], visit["med_type"], False)] = info.pop(
                "acct_mulaid_pay"
            )
        return info

    def _detail(self, person: sqlite3.Row, result: Any) -> list[dict[str, Any]]:
        out = []
        if result.hifp_pay:
            resident = person["insutype"] == "390"
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
        visit: sqlite3.Row,
        person: sqlite3.Row,
        result: Any,
        fees: list[sqlite3.Row],
        setl_no: str,
        *,
        ipt: bool,
    ) -> str:
        """Move the centre's own balances and totals, mark the lines settled, keep the record."""
        setl_id = self._next_setl_id()
        year = date_in(visit["endtime"] or visit["begntime"] if ipt else visit["begntime"]).year
        moved = {
            "own": str(result.own_acct_pay),
            "family": [[d.psn_no, str(d.paid)] for d in result.mulaid],
            "deductible": str(result.act_pay_dedc),
            "fund": str(result.hifp_pay),
            "ipt": ipt,
            "year": year,
            "fees": [f["feedetl_sn"] for f in fees],
        }
        if result.own_acct_pay:
            self.registry.move_account(person["psn_no"], -result.own_acct_pay)
        for draw in result.mulaid:
            self.registry.move_account(draw.psn_no, -draw.paid)
        if ipt:
            self.registry.move_ytd(person["psn_no"], year, ZERO, ZERO, result.hifp_pay)
            self.db.execute(
                "UPDATE visit SET deductible_taken = ? WHERE mdtrt_id = ?",
                (str(Decimal(visit["deductible_taken"]) + result.act_pay_dedc), visit["mdtrt_id"]),
            )
        else:
            self.registry.move_ytd(person["psn_no"], year, result.act_pay_dedc, result.hifp_pay, ZERO)
        self.db.executemany(
            "UPDATE fee SET status = 'settled', setl_id = ? WHERE mdtrt_id = ? AND feedetl_sn = ?",
            [(setl_id, visit["mdtrt_id"], f["feedetl_sn"]) for f in fees],
        )
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status, mdtrt_id, "
            "infno, moved) VALUES (?, ?, 'settle', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'settled', ?, ?, ?)",
            (
                setl_id,
                env["msgid"],
                env["fixmedins_code"],
                person["psn_no"],
                person["insutype"],
                setl_no,
                # dated by the visit (the counter settled then, offline or not); a stay by its discharge
                str(visit["endtime"] or env["inf_time"] if ipt else visit["begntime"])[:10],
                str(result.medfee_sumamt),
                str(result.fund_pay_sumamt),
                str(result.acct_pay),
                str(result.acct_mulaid_pay),
                str(result.psn_cash_pay),
                visit["mdtrt_id"],
                infno,
                json.dumps(moved),
            ),
        )
        return setl_id

    def outpatient(self, env: dict[str, Any], data: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """2206 / 2207: the centre's own split of the visit's uploaded lines."""
        code = env["fixmedins_code"]
        person = self.registry.person(data["psn_no"])
        visit = self._visit(data["mdtrt_id"], code, person["psn_no"], "otp")
        if visit["status"] != "open":
            raise Refusal(
                f"就诊 {visit['mdtrt_id']} 已{ {'settled': '结算', 'cancelled': '撤销'}.get(visit['status'], visit['status']) }"
            )
        fees = self.db.execute(
            "SELECT * FROM fee WHERE mdtrt_id = ? AND chrg_bchno = ? AND status = 'valid' ORDER BY rowid",
            (visit["mdtrt_id"], str(data["chrg_bchno"])),
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
        visit: sqlite3.Row,
        person: sqlite3.Row,
        fees: list[sqlite3.Row],
        *,
        final: bool,
        infno: str,
        setl_no: str,
    ) -> dict[str, Any]:
        inst = self.registry.institution(env["fixmedins_code"])
        total = sum((Decimal(f["amount"]) for f in fees), ZERO)
        if money_in(data["medfee_sumamt"]) != total:
            raise Refusal(f"medfee_sumamt {data['medfee_sumamt']} 与上传明细合计 {total} 不符")
        outside = any(f["rx_circ_flag"] == "1" for f in fees)
        # an outside prescription's issuing level comes from the prescription platform; here: level 2
        claim = self._claim(
            inst,
            person,
            visit["med_type"],
            date_in(visit["begntime"]),
            fees,
            data["acct_used_flag"] == "1",
            2 if outside else None,
        )
        try:
            result = engine_settle(claim, self.pack(inst["policy"]))
        except Exception as exc:  # noqa: BLE001 - the engine's refusal is the centre's answer
            raise Refusal(f"无法结算：{exc}") from None
        setl_id = ""
        if final:
            setl_id = self._apply(env, infno, visit, person, result, fees, setl_no, ipt=False)
            self.db.execute("UPDATE visit SET status = 'settled' WHERE mdtrt_id = ?", (visit["mdtrt_id"],))
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
        inst = self.registry.institution(env["fixmedins_code"])
        if inst["kind"] != "pharmacy":
            raise Refusal("2101/2102 只用于定点零售药店")
        mdtrt_id = self._new_visit(
            "drug", inst["code"], info, str(info.get("invono", "")), str(info["med_type"])
        )
        person = self.registry.person(info["psn_no"])
        visit = self._visit(mdtrt_id, inst["code"], person["psn_no"], "drug")
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
        if original["psn_no"] != data.get("psn_no"):
            raise Refusal("撤销的人员编号与原结算不符")
        if data.get("mdtrt_id") and data["mdtrt_id"] != original["mdtrt_id"]:
            raise Refusal("撤销的就诊ID与原结算不符")
        if original["status"] != "settled":
            raise Refusal(
                f"原结算 {original['setl_id']} 已{'撤销' if original['status'] == 'cancelled' else '冲正'}"
            )
        self.unmove(original["psn_no"], original["mdtrt_id"], json.loads(original["moved"]))
        setl_id = self._next_setl_id()
        keys = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
        negated = [str(ZERO - Decimal(original[k])) for k in keys]
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status, mdtrt_id, "
            "infno, moved) VALUES (?, ?, 'cancel', ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, 'settled', ?, ?, '{}')",
            (
                setl_id,
                env["msgid"],
                env["fixmedins_code"],
                original["psn_no"],
                original["insutype"],
                env["inf_time"][:10],
                *negated,
                original["setl_id"],
                original["mdtrt_id"],
                infno,
            ),
        )
        self.db.execute("UPDATE record SET status = 'cancelled' WHERE setl_id = ?", (original["setl_id"],))
        return {
            "setlinfo": {
                **dict(zip(keys, (Decimal(v) for v in negated), strict=False)),
                "setl_id": setl_id,
                "psn_no": original["psn_no"],
                "mdtrt_id": original["mdtrt_id"],
            }
        }

    def unmove(self, psn_no: str, mdtrt_id: str, moved: dict[str, Any]) -> None:
        if Decimal(moved["own"]):
            self.registry.move_account(psn_no, Decimal(moved["own"]))
        for provider, paid in moved["family"]:
            self.registry.move_account(provider, Decimal(paid))
        if moved["ipt"]:
            self.db.execute("UPDATE visit SET status = 'open' WHERE mdtrt_id = ?", (mdtrt_id,))
            self.registry.move_ytd(psn_no, moved["year"], ZERO, ZERO, -Decimal(moved["fund"]))
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
            self.registry.move_ytd(
                psn_no, moved["year"], -Decimal(moved["deductible"]), -Decimal(moved["fund"]), ZERO
            )
            self.db.execute("UPDATE visit SET status = 'cancelled' WHERE mdtrt_id = ?", (mdtrt_id,))
        self.db.executemany(
            "UPDATE fee SET status = ?, setl_id = NULL WHERE mdtrt_id = ? AND feedetl_sn = ?",
            [("valid" if moved["ipt"] else "cancelled", mdtrt_id, sn) for sn in moved["fees"]],
        )

    # ----- outpatient visits
    def register(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        inst = self.registry.institution(env["fixmedins_code"])
        mdtrt_id = self._new_visit("otp", inst["code"], data, str(data["ipt_otp_no"]), "11")
        return {"data": {"mdtrt_id": mdtrt_id, "psn_no": data["psn_no"], "ipt_otp_no": data["ipt_otp_no"]}}

    def visit_info(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        info = given["mdtrtinfo"]
        visit = self._visit(info["mdtrt_id"], env["fixmedins_code"], info["psn_no"], "otp")
        if info["med_type"] not in MED_TYPES:
            raise Refusal(f"未知的医疗类别 {info['med_type']}")
        self.db.execute(
            "UPDATE visit SET med_type = ? WHERE mdtrt_id = ?", (info["med_type"], visit["mdtrt_id"])
        )
        return {}

    def fees(self, env: dict[str, Any], given: dict[str, Any], kind: str) -> dict[str, Any]:
        """2204 / 2301: fee lines for a visit or stay, each classed from the centre's catalogue."""
        lines = given["feedetail"]
        if not lines:
            raise Refusal("feedetail 为空")
        first = lines[0]
        visit = self._visit(first["mdtrt_id"], env["fixmedins_code"], first["psn_no"], kind)
        if visit["status"] not in ("open",) or (kind == "ipt" and visit["endtime"]):
            raise Refusal(f"就诊 {visit['mdtrt_id']} 已结束，不能再上传费用")
        if any(ln["mdtrt_id"] != visit["mdtrt_id"] for ln in lines):
            raise Refusal("一次上传的明细应属于同一就诊")
        return {"result": self._add_fees(visit["mdtrt_id"], lines, str(first.get("chrg_bchno", "")))}

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
            f"SELECT feedetl_sn, status FROM fee WHERE mdtrt_id = ? AND {where}", (visit["mdtrt_id"], *args)
        ).fetchall()
        if not rows:
            raise Refusal("没有要撤销的费用明细")
        if any(status == "settled" for _, status in rows):
            raise Refusal("已结算的明细不能撤销")
        self.db.execute(
            f"UPDATE fee SET status = 'cancelled' WHERE mdtrt_id = ? AND {where}", (visit["mdtrt_id"], *args)
        )
        return {}

    def register_cancel(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        visit = self._visit(data["mdtrt_id"], env["fixmedins_code"], data["psn_no"], "otp")
        if visit["status"] == "settled":
            raise Refusal("已结算的就诊不能撤销登记")
        self.db.execute("UPDATE visit SET status = 'cancelled' WHERE mdtrt_id = ?", (visit["mdtrt_id"],))
        return {}

    # ----- inpatient stays
    def admit(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        info = given["mdtrtinfo"]
        inst = self.registry.institution(env["fixmedins_code"])
        person = self.registry.person(info["psn_no"])
        if not str(info.get("ipt_no", "")).strip():
            raise Refusal("住院号 ipt_no 不能为空")
        if self.db.execute(
            "SELECT 1 FROM visit WHERE kind = 'ipt' AND psn_no = ? AND status = 'open' AND endtime IS NULL",
            (person["psn_no"],),
        ).fetchone():
            raise Refusal(f"{person['psn_no']} 已在院")
        mdtrt_id = self._new_visit("ipt", inst["code"], info, "", str(info["med_type"]))
        self.db.execute("UPDATE person SET hospitalized = 1 WHERE psn_no = ?", (person["psn_no"],))
        return {"result": {"mdtrt_id": mdtrt_id, "psn_no": person["psn_no"], "ipt_otp_no": ""}}

    def discharge(self, env: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        """2402: the stay ends (again: the same end time is accepted, so a retried discharge is harmless)."""
        info = given["dscginfo"]  # 2402's node (national-interface.md: not mdtrtinfo)
        visit = self._visit(info["mdtrt_id"], env["fixmedins_code"], info["psn_no"], "ipt")
        if visit["status"] != "open":
            raise Refusal(f"住院 {visit['mdtrt_id']} 已结算")
        if date_in(info["endtime"]) < date_in(visit["begntime"]):
            raise Refusal("出院时间早于入院时间")
        self.db.execute(
            "UPDATE visit SET endtime = ? WHERE mdtrt_id = ?", (info["endtime"], visit["mdtrt_id"])
        )
        self.db.execute("UPDATE person SET hospitalized = 0 WHERE psn_no = ?", (visit["psn_no"],))
        return {}

    def discharge_cancel(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        visit = self._visit(data["mdtrt_id"], env["fixmedins_code"], data["psn_no"], "ipt")
        if visit["status"] != "open":
            raise Refusal(f"住院 {visit['mdtrt_id']} 已结算，先撤销结算")
        self.db.execute("UPDATE visit SET endtime = NULL WHERE mdtrt_id = ?", (visit["mdtrt_id"],))
        self.db.execute("UPDATE person SET hospitalized = 1 WHERE psn_no = ?", (visit["psn_no"],))
        return {}

    def inpatient(self, env: dict[str, Any], data: dict[str, Any], *, final: bool) -> dict[str, Any]:
        """2303 / 2304: deductible per admission by level, ratio by level and retirement, the annual
        cap, class-B pre-pay, class-C self-pay (training values); then the accounts as outpatient."""
        code = env["fixmedins_code"]
        person = self.registry.person(data["psn_no"])
        visit = self._visit(data["mdtrt_id"], code, person["psn_no"], "ipt")
        interim = data["mid_setl_flag"] == "1"
        if visit["status"] != "open":
            raise Refusal(f"住院 {visit['mdtrt_id']} 已结算")
        if not interim and not visit["endtime"]:
            raise Refusal("未办理出院（2402），不能出院结算")
        fees = self.db.execute(
            "SELECT * FROM fee WHERE mdtrt_id = ? AND status = 'valid' ORDER BY rowid", (visit["mdtrt_id"],)
        ).fetchall()
        if not fees:
            raise Refusal("没有未结算的费用明细")
        inst = self.registry.institution(code)
        total = sum((Decimal(f["amount"]) for f in fees), ZERO)
        if money_in(data["medfee_sumamt"]) != total:
            raise Refusal(f"medfee_sumamt {data['medfee_sumamt']} 与上传明细合计 {total} 不符")
        day = date_in(visit["endtime"] or env["inf_time"])
        claim = self._claim(inst, person, visit["med_type"], day, fees, data["acct_used_flag"] == "1", None)
        parts = [
            self.classify(
                f["code"], Decimal(f["amount"]), Decimal(f["cnt"]), Decimal(f["pric"]), f["feedetl_sn"]
            )
            for f in fees
        ]
        scope = sum((p["inscp_scp_amt"] for p in parts), ZERO)
        policy = self.inpatient_policy
        tier = policy.tier(inst["level"])
        deductible = min(scope, max(ZERO, policy.deductible[tier] - Decimal(visit["deductible_taken"])))
        retired = is_retiree(claim.person, day)
        ratio = (policy.ratio_retired if retired else policy.ratio_in_service)[tier]
        room = max(ZERO, policy.annual_cap - self.registry.ytd(person["psn_no"], day.year)[2])
        fund = min(cents((scope - deductible) * ratio), room)
        note = (
            f"{policy.name}：起付线 {policy.deductible[tier]}（本次 {deductible}），"
            f"{'退休' if retired else '在职'}报销比例 {ratio}，年度限额余 {room}"
        )
        try:
            result = engine_settle(
                claim, self.pack(inst["policy"]), CentreFund(fund, deductible, ratio, note)
            )
        except Exception as exc:  # noqa: BLE001
            raise Refusal(f"无法结算：{exc}") from None
        setl_id = ""
        if final:
            setl_id = self._apply(
                env, F.INPATIENT_SETTLE, visit, person, result, fees, str(data["invono"]), ipt=True
            )
            if not interim:
                self.db.execute(
                    "UPDATE visit SET status = 'settled' WHERE mdtrt_id = ?", (visit["mdtrt_id"],)
                )
        return {
            "setlinfo": self._setlinfo(
                env=env, visit=visit, person=person, result=result, setl_id=setl_id, clr_type="21", inst=inst
            ),
            "setldetail": self._detail(person, result),
        }
