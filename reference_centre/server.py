"""A reference insurance centre over HTTP, for tests, training and the sync bench.

    counter-app centre [--host 127.0.0.1] [--port 8765] [--db centre.sqlite3] [--registry FILE]
                       [--population PERSONS.csv [--bindings BINDINGS.csv]] [--catalogues DIR]
                       [--policies DIR] [--profile national|hefei-legacy] [--record FILE]

It keeps its own SQLite database and books (books.py): its insured registry, loaded from a
registry file (registry_file.py) or the agency's population files (the format a counter imports,
services/population.py), visits, fee lines, and settlements it computes itself. It answers
who a person is (1101, by ID number, social-security card or e-voucher token; a token is issued at
POST /_admin/evoucher, as a patient's app shows a new QR code each time), signs operators in and
out (9001/9002, and refuses a business message whose sign_no is not in force), reconciles the
detail by file (9101, 3202, 9102), and hands out the national catalogues it is given (`--catalogues`,
catalogue.py: downloads 1301–1309 by version, fetched with 9102; paged queries 1312–1319). Its answers are written as the platform writes them: `infcode`
a JSON number (`--infcode text` answers "0" as some provincial centres do). It checks each envelope
and input against the field lists (fields.py: no undefined field, numbers for money), answers a
repeated msgid with its first answer (so a counter that retries never settles twice), answers
3201/3202 reconciliation, and takes faults at run time for tests and training:

    POST /_admin/faults {"mode": "delay"|"hold"|"error500"|"reject"|"drop_after_commit"|"refuse"|"none",
                         "count": N, "seconds": S, "after": K}
    GET  /_admin/stats[?held=N]   (with held: answers once N requests are held)

Every request to the API must carry the gateway's signed headers (gateway.py); the default
credentials are the training pair (paasid "training"), others come from --paasid and
$COUNTER_APP_CENTRE_PASSTOKEN. The admin endpoints listen on their own port, on 127.0.0.1 only, and want the header
`Authorization: Bearer TOKEN` (the token is --admin-token, or made up and printed at start).
"hold" keeps the next requests waiting until "none" clears the faults, and "refuse" without
seconds stops listening until then: a test waits on those cues, never on a clock.

Built on aiohttp. Everything it says travels in the envelope of `fields.py`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import json
import secrets
import signal
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from counter_app.services.national_catalogue import write_download
from counter_app.sync import fields as F
from counter_app.sync import statement_file, wire
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN

from .books import Books, InpatientPolicy
from .catalogue import Published
from .gateway import Verifier
from .inputs import Refusal, money_in

FAULT_MODES = (
    "none",
    "delay",
    "hold",
    "error500",
    "reject",
    "drop_after_commit",
    "refuse",
    "drip",
    "answer",
    "tamper",
)
ADMIN_HOST = "127.0.0.1"  # the admin endpoints are never reachable from another machine


@dataclass
class Faults:
    """The fault for the next `count` requests, after letting `after` requests through."""

    mode: str = "none"
    count: int = 0
    seconds: float = 0.0
    after: int = 0
    body: Any = None  # "answer": the JSON to answer with instead (null, a list, anything)
    raw: str | None = None  # "answer": the bytes to answer with, as text (not JSON at all)
    set: dict[str, Any] = field(default_factory=dict)  # "tamper": dotted path -> value in the real answer

    def take(self) -> str:
        if self.mode == "none" or self.count <= 0:
            return "none"
        if self.after > 0:
            self.after -= 1
            return "none"
        self.count -= 1
        mode = self.mode
        if self.count == 0:
            self.mode = "none"
        return mode


@dataclass
class Stats:
    messages: int = 0
    duplicates: int = 0
    refused: int = 0
    held: int = 0
    unsigned: int = 0  # requests the gateway check refused
    by_infno: dict[str, int] = field(default_factory=dict)


class CentreStore:
    """The centre's own database: every message and its answer, and its books (books.py)."""

    def __init__(
        self,
        path: Path,
        *,
        registry: Path | None = None,
        population: tuple[Path, Path | None] | None = None,
        catalogues: Path | None = None,
        policies: Path | None = None,
        profile: str = "national",
        record: Path | None = None,
        inpatient: Path | None = None,
        demo_history: str | None = None,
        text_codes: bool = False,
    ) -> None:
        self.published = Published(catalogues)  # the national catalogues it hands out (1301–1319)
        self.text_codes = text_codes  # answer infcode as text ("0"), as some provincial centres do
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.books = Books(
            self.db,
            policies=policies,
            profile=profile,
            inpatient=InpatientPolicy.load(inpatient) if inpatient else None,
        )
        self.persons = (
            self.books.registry.load_registry(registry)
            if registry
            else self.db.execute("SELECT count(*) FROM person").fetchone()[0]
        )
        if population is not None:  # the agency's files, the format a counter imports
            self.persons = self.books.registry.load_population(*population)
        self.history = self.books.import_history(demo_history) if demo_history else 0
        self.record = record.open("a", encoding="utf-8") if record else None

    def answer(self, env: dict[str, Any], now: dt.datetime, stats: Stats) -> tuple[dict[str, Any], bool]:
        """(response, duplicate): one transaction per message; a repeat gets the stored answer."""
        msgid = env.get("msgid")
        if isinstance(msgid, str):
            row = self.db.execute("SELECT response FROM message WHERE msgid = ?", (msgid,)).fetchone()
            if row:
                stats.duplicates += 1
                return wire.loads(row["response"]), True
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("SAVEPOINT work")
            try:
                _check_envelope(env)
                self._check_sign_no(env)
                output = self._dispatch(env, now)
                response = _response(env, now, True, "", output, text_codes=self.text_codes)
            except (Refusal, KeyError) as exc:  # a KeyError: a field the checks let through as empty
                self.db.execute("ROLLBACK TO work")  # a refusal leaves nothing behind but its answer
                stats.refused += 1
                response = _response(
                    env,
                    now,
                    False,
                    str(exc) if isinstance(exc, Refusal) else f"缺少 {exc}",
                    {},
                    text_codes=self.text_codes,
                )
            self.db.execute("RELEASE work")
            if isinstance(msgid, str) and len(msgid) == F.MSGID_LENGTH:
                self.db.execute(
                    "INSERT INTO message VALUES (?, ?, ?, ?, ?)",
                    (
                        msgid,
                        str(env.get("infno")),
                        str(env.get("fixmedins_code")),
                        now.isoformat(),
                        wire.dumps_text(response),
                    ),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return response, False

    def _dispatch(self, env: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """Each transaction to its handler: (input, `data` node) -> output."""
        b, infno = self.books, env["infno"]
        given = env["input"]
        data = given.get("data", {})
        handlers: dict[str, Any] = {
            F.REGISTER: lambda: b.register(env, data),
            F.REGISTER_CANCEL: lambda: b.register_cancel(env, data),
            F.VISIT_INFO: lambda: b.visit_info(env, given),
            F.FEE_UPLOAD: lambda: b.fees(env, given, "otp"),
            F.FEE_CANCEL: lambda: b.cancel_fees(env, data, "otp"),
            F.OUTPATIENT_PRESETTLE: lambda: b.outpatient(env, data, final=False),
            F.OUTPATIENT_SETTLE: lambda: b.outpatient(env, data, final=True),
            F.PHARMACY_PRESETTLE: lambda: b.pharmacy(env, given, final=False),
            F.PHARMACY_SETTLE: lambda: b.pharmacy(env, given, final=True),
            **{cancel: (lambda c=cancel: b.cancel(env, data, c)) for cancel in F.CANCEL_INFNOS},
            F.ADMIT: lambda: b.admit(env, given),
            F.DISCHARGE: lambda: b.discharge(env, given),
            F.DISCHARGE_CANCEL: lambda: b.discharge_cancel(env, data),
            F.INPATIENT_FEE_UPLOAD: lambda: b.fees(env, given, "ipt"),
            F.INPATIENT_FEE_CANCEL: lambda: b.cancel_fees(env, data, "ipt"),
            F.INPATIENT_PRESETTLE: lambda: b.inpatient(env, data, final=False),
            F.INPATIENT_SETTLE: lambda: b.inpatient(env, data, final=True),
            F.REVERSAL: lambda: self._reverse(env, data),
            F.RECONCILE_TOTALS: lambda: self._totals(env, data),
            F.RECONCILE_DETAIL: lambda: self._detail(env, data, now),
            F.FILE_UPLOAD: lambda: self._upload(env, given["fsUploadIn"], now),
            F.SIGN_IN: lambda: self._sign_in(env, given["signIn"], now),
            F.PERSON_INFO: lambda: b.registry.person_info(data, now),
            F.SIGN_OUT: lambda: self._sign_out(env, given["signOut"], now),
            **{c: (lambda c=c: self._catalogue(env, c, data, now)) for c in F.CATALOGUE_DOWNLOADS},
            **{q: (lambda q=q: self.published.page(q, data)) for q in F.TERM_QUERIES},
        }
        if infno not in handlers:
            raise Refusal(f"不支持的交易 {infno}")
        answer: dict[str, Any] = handlers[infno]()
        return answer

    def _sign_in(self, env: dict[str, Any], data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """9001: a sign_no for the operator at this institution (opter_no and ip required)."""
        opter = str(data.get("opter_no", "")).strip()
        if not opter:
            raise Refusal("签到的操作员编号 opter_no 不能为空")
        if not str(data.get("ip", "")).strip():
            raise Refusal("签到的 IP 地址 ip 不能为空")
        count = self.db.execute("SELECT count(*) FROM sign_in").fetchone()[0]
        sign_no = f"{now:%Y%m%d}{count + 1:08d}"
        self.db.execute(
            "INSERT INTO sign_in VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (
                sign_no,
                opter,
                env["fixmedins_code"],
                str(data["ip"]),
                str(data.get("mac", "")),
                now.isoformat(),
            ),
        )
        return {"signinoutb": {"sign_no": sign_no, "sign_time": F.inf_time(now)}}

    def _sign_out(self, env: dict[str, Any], data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """9002: the named sign-in ends; it must be this operator's, at this institution, in force."""
        row = self.db.execute(
            "SELECT opter_no, fixmedins_code, signed_out_at FROM sign_in WHERE sign_no = ?",
            (str(data.get("sign_no")),),
        ).fetchone()
        if (
            row is None
            or row["opter_no"] != data.get("opter_no")
            or row["fixmedins_code"] != env["fixmedins_code"]
        ):
            raise Refusal(f"签到号 {str(data.get('sign_no'))[:30]} 不是该操作员的签到")
        if row["signed_out_at"] is not None:
            raise Refusal("该签到已签退")
        self.db.execute(
            "UPDATE sign_in SET signed_out_at = ? WHERE sign_no = ?", (now.isoformat(), data["sign_no"])
        )
        return {"signoutoutb": {"sign_time": F.inf_time(now)}}

    def _check_sign_no(self, env: dict[str, Any]) -> None:
        """A business message's sign_no, when given, is a sign-in in force at its institution (the
        platform's table does not make it required, so an empty one is let through)."""
        sign_no = env.get("sign_no")
        if env.get("infno") in (F.SIGN_IN, F.SIGN_OUT) or not sign_no:
            return
        row = self.db.execute(
            "SELECT fixmedins_code, signed_out_at FROM sign_in WHERE sign_no = ?", (str(sign_no),)
        ).fetchone()
        if row is None or row["fixmedins_code"] != env.get("fixmedins_code"):
            raise Refusal(f"签到号 {str(sign_no)[:30]} 无效，请重新签到")
        if row["signed_out_at"] is not None:
            raise Refusal(f"签到号 {str(sign_no)[:30]} 已签退，请重新签到")

    def _reverse(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """2601: undo a message whose answer was lost: a settlement or cancel is reversed in full."""
        row = self.db.execute(
            "SELECT setl_id, status, kind, psn_no, mdtrt_id, moved, cancels FROM record WHERE msgid = ?",
            (data.get("omsgid"),),
        ).fetchone()
        if row is None:
            return {"result": "原交易不存在，无需冲正"}
        if row["status"] == "reversed":
            return {"result": f"{row['setl_id']} 已冲正"}
        if row["kind"] == "settle" and row["status"] == "settled":
            self.books.unmove(row["psn_no"], row["mdtrt_id"], json.loads(row["moved"]))
        self.db.execute("UPDATE record SET status = 'reversed' WHERE setl_id = ?", (row["setl_id"],))
        return {"result": f"已冲正 {row['setl_id']}"}

    def _records(self, code: str, data: dict[str, Any], insutype: str | None) -> list[sqlite3.Row]:
        begin, end = data.get("stmt_begndate"), data.get("stmt_enddate")
        if not (isinstance(begin, str) and isinstance(end, str)):
            raise Refusal("stmt_begndate / stmt_enddate 缺失")
        sql = (
            "SELECT setl_no, msgid, insutype, medfee_sumamt, fund_pay_sumamt, acct_pay FROM record "
            "WHERE fixmedins_code = ? AND setl_date BETWEEN ? AND ? AND status != 'reversed'"
        )
        args: list[Any] = [code, begin, end]
        if insutype:
            sql += " AND insutype = ?"
            args.append(insutype)
        return self.db.execute(sql + " ORDER BY id", args).fetchall()

    def _totals(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        rows = self._records(env["fixmedins_code"], data, data.get("insutype"))
        sums = {k: sum((Decimal(r[k]) for r in rows), Decimal("0.00")) for k in F.RECONCILE_AMOUNTS}
        sent = {k: money_in(data.get(k)) for k in F.RECONCILE_AMOUNTS}
        count = data.get("fixmedins_setl_cnt")
        ties = sums == sent and count == len(rows)
        text = (
            "平"
            if ties
            else (
                f"不平：中心 {len(rows)} 笔，医疗费 {sums['medfee_sumamt']}，"
                f"基金 {sums['fund_pay_sumamt']}，账户 {sums['acct_pay']}"
            )
        )
        return {
            "stmtinfo": {
                "stmt_rslt": "0" if ties else "1",
                "stmt_rslt_dscr": text,
                "fixmedins_setl_cnt": len(rows),
                **sums,
            }
        }

    def _new_file(
        self, code: str, filename: str, kind: str, content: bytes, now: dt.datetime
    ) -> dict[str, Any]:
        number = f"F{now:%Y%m%d%H%M%S}{self.db.execute('SELECT count(*) FROM file').fetchone()[0] + 1:06d}"
        self.db.execute(
            "INSERT INTO file VALUES (?, ?, ?, ?, ?, ?)",
            (number, filename, code, kind, content, now.isoformat()),
        )
        return {
            "file_qury_no": number,
            "filename": filename,
            "dld_endtime": F.inf_time(now + dt.timedelta(days=1)),
        }

    def _catalogue(
        self, env: dict[str, Any], catalogue: str, data: dict[str, Any], now: dt.datetime
    ) -> dict[str, Any]:
        """1301–1309: a file of what is newer than `ver`, to fetch with 9102."""
        version, lines = self.published.newer(catalogue, str(data.get("ver") or "0"))
        name = f"{catalogue}-{version}"
        stored = self._new_file(
            env["fixmedins_code"],
            f"{name}.zip",
            "catalogue",
            write_download((line.split("\t") for line in lines), f"{name}.txt"),
            now,
        )
        return {
            "file_qury_no": stored["file_qury_no"],
            "filename": stored["filename"],
            "dld_end_time": stored["dld_endtime"][:10],
            "data_cnt": len(lines),
        }

    def _upload(self, env: dict[str, Any], given: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """9101: keep the file; its file_qury_no names it in 3202."""
        try:
            content = statement_file.decode(str(given["in"]))
        except statement_file.BadFile as exc:
            raise Refusal(str(exc)) from None
        if given.get("fixmedins_code") != env["fixmedins_code"]:
            raise Refusal("fsUploadIn.fixmedins_code 与报文的医药机构编号不符")
        if not str(given.get("filename", "")).strip() or len(str(given["filename"])) > 200:
            raise Refusal("filename 不能为空，最多 200 位")
        return self._new_file(env["fixmedins_code"], str(given["filename"]), "upload", content, now)

    def _detail(self, env: dict[str, Any], data: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        """3202: the uploaded file of the period against the centre's books; the verdicts are a
        file to fetch with 9102 (stmt_rslt 0 agreed, 1 differs; memo says how)."""
        code = env["fixmedins_code"]
        row = self.db.execute(
            "SELECT content FROM file WHERE file_qury_no = ? AND fixmedins_code = ? AND kind = 'upload'",
            (str(data.get("file_qury_no")), code),
        ).fetchone()
        if row is None:
            raise Refusal(f"文件查询号 {data.get('file_qury_no')} 不存在")
        try:
            uploaded = statement_file.read(row["content"], statement_file.UPLOAD_COLUMNS)
        except statement_file.BadFile as exc:
            raise Refusal(str(exc)) from None
        if data.get("fixmedins_setl_cnt") != len(uploaded):
            raise Refusal(
                f"fixmedins_setl_cnt {data.get('fixmedins_setl_cnt')} 与文件的 {len(uploaded)} 行不符"
            )
        ours = {
            r["setl_id"]: r
            for r in self.db.execute(
                "SELECT setl_id, psn_no, mdtrt_id, msgid, kind, medfee_sumamt, fund_pay_sumamt, acct_pay FROM record "
                "WHERE fixmedins_code = ? AND setl_date BETWEEN ? AND ? AND status != 'reversed' ORDER BY id",
                (code, str(data.get("stmt_begndate")), str(data.get("stmt_enddate"))),
            ).fetchall()
        }
        lines = []
        names = {"medfee_sumamt": "医疗费", "fund_pay_sumamt": "基金", "acct_pay": "账户"}
        for up in uploaded:
            rec = ours.pop(up["setl_id"], None)
            if rec is None:
                lines.append({**up, "msgid": "", "stmt_rslt": "1", "memo": "中心无此结算"})
                continue
            try:
                unequal = [k for k in names if Decimal(up[k]) != Decimal(rec[k])]
            except ArithmeticError:
                raise Refusal(f"文件中 {up['setl_id']} 的金额不是数值") from None
            memo = "，".join(f"{names[k]} 医药机构 {up[k]} 中心 {rec[k]}" for k in unequal)
            lines.append(
                {
                    "psn_no": rec["psn_no"],
                    "mdtrt_id": rec["mdtrt_id"],
                    "setl_id": rec["setl_id"],
                    "msgid": rec["msgid"],
                    "stmt_rslt": "1" if unequal else "0",
                    "refd_setl_flag": "1" if rec["kind"] == "cancel" else "0",
                    "memo": f"金额不符：{memo}" if unequal else "",
                }
            )
        for rec in ours.values():  # in the centre's books, not in the file
            lines.append(
                {
                    "psn_no": rec["psn_no"],
                    "mdtrt_id": rec["mdtrt_id"],
                    "setl_id": rec["setl_id"],
                    "msgid": rec["msgid"],
                    "stmt_rslt": "1",
                    "refd_setl_flag": "1" if rec["kind"] == "cancel" else "0",
                    "memo": "医药机构未上传此结算",
                }
            )
        name = f"{code}{str(data.get('stmt_begndate')).replace('-', '')}result"
        content = statement_file.write(f"{name}.txt", statement_file.RESULT_COLUMNS, lines)
        return {"fileinfo": self._new_file(code, f"{name}.zip", "result", content, now)}

    def file(self, env: Any) -> bytes | None:
        """9102: the named file's bytes (the answer is the file itself), or None."""
        given = env.get("input", {}).get("fsDownloadIn", {}) if isinstance(env, dict) else {}
        if not isinstance(given, dict):
            return None
        row = self.db.execute(
            "SELECT content FROM file WHERE file_qury_no = ? AND fixmedins_code = ?",
            (str(given.get("file_qury_no")), str(env.get("fixmedins_code"))),
        ).fetchone()
        return bytes(row["content"]) if row else None

    def stats(self, stats: Stats) -> dict[str, Any]:
        counts = dict(
            self.db.execute("SELECT kind || ':' || status, count(*) FROM record GROUP BY 1").fetchall()
        )
        return {
            "messages": stats.messages,
            "duplicates": stats.duplicates,
            "refused": stats.refused,
            "by_infno": stats.by_infno,
            "records": counts,
            "stored_messages": self.db.execute("SELECT count(*) FROM message").fetchone()[0],
        }


def _check_envelope(env: Any) -> None:
    if not isinstance(env, dict):
        raise Refusal("报文不是 JSON 对象")
    missing = [k for k in F.ENVELOPE_FIELDS if k not in env]
    if missing:
        raise Refusal(f"报文缺少字段：{', '.join(missing)}")
    extra = [k for k in env if k not in F.ENVELOPE_FIELDS]
    if extra:
        raise Refusal(f"报文含未定义字段：{', '.join(map(str, extra))}")
    if env["infno"] not in F.KNOWN_INFNOS:
        raise Refusal(f"未知交易编号 {env['infno']}")
    wrong_msgid = F.msgid_problem(env["msgid"], env["fixmedins_code"])
    if wrong_msgid:
        raise Refusal(wrong_msgid)
    try:
        dt.datetime.strptime(str(env["inf_time"]), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Refusal("inf_time 应为 yyyy-MM-dd HH:mm:ss") from None
    wrong = F.problems(env["infno"], env["input"])
    if wrong:
        raise Refusal("；".join(wrong[:5]) + (f"（另有 {len(wrong) - 5} 处）" if len(wrong) > 5 else ""))


def _response(
    env: Any, now: dt.datetime, ok: bool, err_msg: str, output: dict[str, Any], *, text_codes: bool = False
) -> dict[str, Any]:
    """An answer as the platform writes it: `infcode` a JSON number (0, -1), `err_msg` null on
    success, whole amounts as integers; with `text_codes`, as some provincial centres do
    ("0", "-1", err_msg "")."""
    stamp = now.strftime("%Y%m%d%H%M%S%f")[:17]
    admvs = env.get("mdtrtarea_admvs", "") if isinstance(env, dict) else ""
    code: int | str = (0 if ok else -1) if not text_codes else ("0" if ok else "-1")
    return {
        "infcode": code,
        "inf_refmsgid": f"{str(admvs)[:6]:0<6}{now:%Y%m%d%H%M%S}{now.microsecond:010d}",
        "refmsg_time": stamp,
        "respond_time": stamp,
        "err_msg": err_msg if err_msg or text_codes else None,
        "warn_msg": None if not text_codes else "",
        "output": output if text_codes else _whole_as_int(output),
    }


def _whole_as_int(value: Any) -> Any:
    """Whole amounts as JSON integers (0, 800), as the platform's sample answers carry them."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: _whole_as_int(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_as_int(v) for v in value]
    return value


def _tamper(answer: Any, changes: dict[str, Any]) -> Any:
    """The answer with each dotted path (`output.setlinfo.psn_no`) set to its value."""
    answer = json.loads(wire.dumps_text(answer), parse_float=Decimal)
    for path, value in changes.items():
        node = answer
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node
        if isinstance(node, dict):
            node[last] = value
    return answer


def _json(obj: Any, status: int = 200) -> web.Response:
    """An answer with money as JSON numbers (wire.py)."""
    return web.Response(body=wire.dumps(obj), status=status, content_type="application/json")


class Centre:
    """The aiohttp application and its listening site (restartable, for the `refuse` fault), and
    the admin application on its own site, bound to loopback only and asking for a token."""

    def __init__(
        self,
        store: CentreStore,
        host: str,
        port: int,
        *,
        admin_port: int = 0,
        admin_token: str | None = None,
        passtokens: dict[str, str] | None = None,
    ) -> None:
        self.store, self.host, self.port = store, host, port
        self.gateway = Verifier(passtokens or {TRAINING_PAASID: TRAINING_PASSTOKEN})
        self.admin_port, self.admin_token = admin_port, admin_token or secrets.token_urlsafe(18)
        self.faults, self.stats = Faults(), Stats()
        self.released = asyncio.Event()
        self.held_moved = asyncio.Event()  # set, and replaced, whenever the count of held requests moves
        self.refusing = False
        self.app = web.Application()
        self.app.router.add_post(F.API_PATH, self.handle)
        self.runner = web.AppRunner(self.app, access_log=None)
        self.site: web.TCPSite | None = None
        self.admin = web.Application(middlewares=[self._admin_guard])
        self.admin.router.add_post("/_admin/faults", self.set_faults)
        self.admin.router.add_get("/_admin/stats", self.get_stats)
        self.admin.router.add_post("/_admin/evoucher", self.evoucher)
        self.admin_runner = web.AppRunner(self.admin, access_log=None)

    async def start(self) -> int:
        await self.runner.setup()
        await self._listen()
        await self.admin_runner.setup()
        admin_site = web.TCPSite(self.admin_runner, ADMIN_HOST, self.admin_port, reuse_address=True)
        await admin_site.start()
        self.admin_port = admin_site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def _listen(self) -> None:
        self.site = web.TCPSite(self.runner, self.host, self.port, reuse_address=True)
        await self.site.start()
        if self.port == 0:
            self.port = self.site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.refusing = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refusal = self.gateway.refusal(request.headers)
        if refusal:  # as a gateway does: before the platform sees the message
            self.stats.unsigned += 1
            return web.json_response(
                {"infcode": "-1", "err_msg": refusal},
                status=401,
                dumps=lambda o: json.dumps(o, ensure_ascii=False),
            )
        mode = self.faults.take()
        self.stats.messages += 1
        if mode == "delay":
            await asyncio.sleep(self.faults.seconds)
        if mode == "hold":  # until the admin clears the faults: a reply that never comes, on cue
            self._hold(+1)
            try:
                await self.released.wait()
            finally:
                self._hold(-1)
        if mode == "error500":
            return web.json_response({"infcode": "-1", "err_msg": "injected 500"}, status=500)
        body = await request.read()
        if self.store.record is not None:  # every request as it arrived, one per line (tests read it back)
            self.store.record.write(body.decode("utf-8", "replace").replace("\n", " ") + "\n")
            self.store.record.flush()
        try:
            env = wire.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            return _json(
                _response(
                    {}, dt.datetime.now(), False, "报文不是合法 JSON", {}, text_codes=self.store.text_codes
                )
            )
        infno = str(env.get("infno")) if isinstance(env, dict) else "?"
        self.stats.by_infno[infno] = self.stats.by_infno.get(infno, 0) + 1
        if mode == "reject":
            return _json(
                _response(
                    env, dt.datetime.now(), False, "injected rejection", {}, text_codes=self.store.text_codes
                )
            )
        fault = self.faults
        if mode == "answer":  # instead of the centre's answer: whatever the test wants the counter to read
            if fault.raw is not None:
                return web.Response(body=fault.raw.encode("utf-8"), content_type="application/json")
            return _json(fault.body)
        if infno == F.FILE_DOWNLOAD:  # the answer is the file itself, not JSON
            try:
                _check_envelope(env)
                content = self.store.file(env)
                if content is None:
                    raise Refusal("文件不存在或已过期")
            except Refusal as exc:
                return _json(
                    _response(env, dt.datetime.now(), False, str(exc), {}, text_codes=self.store.text_codes)
                )
            return web.Response(body=content, content_type="application/zip")
        response, _duplicate = self.store.answer(env, dt.datetime.now(), self.stats)
        if mode == "drop_after_commit" and request.transport is not None:
            request.transport.close()  # committed, but the counter never hears back
        if mode == "tamper":  # the real answer (committed) with fields changed, e.g. another patient's ids
            return _json(_tamper(response, fault.set))
        if mode == "drip":  # the real answer, one byte every `seconds`: a centre that never quite finishes
            return await self._drip(request, wire.dumps(response), fault.seconds)
        return _json(response)

    async def _drip(self, request: web.Request, body: bytes, seconds: float) -> web.StreamResponse:
        reply = web.StreamResponse(headers={"Content-Type": "application/json"})
        reply.content_length = len(body)
        await reply.prepare(request)
        try:
            for n in range(len(body)):
                await reply.write(body[n : n + 1])
                await asyncio.sleep(seconds)
            await reply.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass  # the counter gave up waiting, as it should
        return reply

    @web.middleware
    async def _admin_guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            return web.json_response({"ok": False, "error": "admin token missing or wrong"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def evoucher(self, request: web.Request) -> web.Response:
        """A fresh e-voucher token for {"psn_no"}: what the patient's phone shows at the next scan."""
        try:
            body = await request.json()
            token = self.store.books.registry.issue_evoucher(str(body["psn_no"]), dt.datetime.now())
        except (ValueError, KeyError, TypeError, Refusal) as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=400)
        return web.json_response({"ok": True, "token": token})

    async def set_faults(self, request: web.Request) -> web.Response:
        """Faults for the next requests; mode "none" clears them, lets held requests go and
        listens again. "refuse" with no seconds stops listening until cleared."""
        try:
            body = await request.json()
            mode = str(body.get("mode", "none"))
            faults = Faults(
                mode,
                int(body.get("count", 1)),
                float(body.get("seconds", 0)),
                int(body.get("after", 0)),
                body.get("body"),
                body.get("raw"),
                dict(body.get("set") or {}),
            )
        except (ValueError, TypeError, AttributeError) as exc:
            return web.json_response({"ok": False, "error": f"bad fault: {exc}"}, status=400)
        if mode not in FAULT_MODES:
            return web.json_response({"ok": False, "error": f"unknown mode {mode!r}"}, status=400)
        if mode == "refuse":
            await self._stop_listening()
            if faults.seconds > 0:
                asyncio.get_running_loop().create_task(self._listen_after(faults.seconds))
        else:
            self.faults = faults
        if mode == "none":
            self.released.set()
            self.released = asyncio.Event()
            if self.refusing:
                await self._listen()
        return web.json_response({"ok": True, "mode": mode})

    async def _stop_listening(self) -> None:
        """Connections are refused from the moment this returns (the admin answer comes after)."""
        if self.site is not None and not self.refusing:
            await self.site.stop()
            self.refusing = True

    async def _listen_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.refusing:
            await self._listen()

    def _hold(self, step: int) -> None:
        self.stats.held += step
        self.held_moved.set()
        self.held_moved = asyncio.Event()

    async def get_stats(self, request: web.Request) -> web.Response:
        """What the centre holds; with `?held=N`, answered once exactly N requests are held, so a
        test waits on the centre's own word instead of polling on a clock."""
        if "held" in request.query:
            want = int(request.query["held"])
            while self.stats.held != want:
                await self.held_moved.wait()  # the event in force when checked: no move is missed
        return web.json_response(
            self.store.stats(self.stats)
            | {"held": self.stats.held, "refusing": self.refusing, "unsigned": self.stats.unsigned}
        )


def serve(
    host: str,
    port: int,
    db_path: Path,
    *,
    admin_port: int = 0,
    admin_token: str | None = None,
    passtokens: dict[str, str] | None = None,
    registry: Path | None = None,
    population: tuple[Path, Path | None] | None = None,
    catalogues: Path | None = None,
    policies: Path | None = None,
    profile: str = "national",
    record: Path | None = None,
    inpatient: Path | None = None,
    demo_history: str | None = None,
    text_codes: bool = False,
) -> None:
    """Run until interrupted; prints the URLs it listens on (port 0 picks a free port)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Explicit handlers: a process started in the background inherits SIGINT ignored, and
        # SIGTERM is what service managers and tests send.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        store = CentreStore(
            db_path,
            registry=registry,
            population=population,
            catalogues=catalogues,
            policies=policies,
            profile=profile,
            record=record,
            inpatient=inpatient,
            demo_history=demo_history,
            text_codes=text_codes,
        )
        centre = Centre(
            store, host, port, admin_port=admin_port, admin_token=admin_token, passtokens=passtokens
        )
        bound = await centre.start()
        print(
            f"centre listening on http://{host}:{bound} (database {db_path}); "
            f"admin http://{ADMIN_HOST}:{centre.admin_port} token {centre.admin_token}; "
            f"accepts paasid {', '.join(sorted(centre.gateway.passtokens))}; {store.persons} insured persons; "
            f"packs from {store.books.policies}; inpatient benefits: {store.books.inpatient_policy.name}"
            f"{' (TRAINING VALUES)' if store.books.inpatient_policy.training else ''}; profile {profile}; "
            f"infcode as {'text' if text_codes else 'a number'}"
            + (f"; {store.history} demo history settlements in its books" if demo_history else ""),
            flush=True,
        )
        await stop.wait()
        centre.released.set()  # let held requests go before the runners stop
        await centre.runner.cleanup()
        await centre.admin_runner.cleanup()

    asyncio.run(main())
