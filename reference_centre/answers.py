"""The centre's answers: every message in one transaction against its own database, a repeated
msgid answered with its first answer (so a counter that retries never settles twice), checked
against the envelope's field list; sign-in and sign-out (9001/9002), reversal (2601), the
reconciliation of totals (3201) and detail by file (9101, 3202, 9102), and the catalogues. The
books (books.py) and the registry (registry.py) decide the business answers."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from counter_app.services.national_catalogue import write_download
from counter_app.sync import fields as F
from counter_app.sync import statement_file, wire

from .books import Books, InpatientPolicy
from .catalogue import Published
from .inputs import Refusal, money_in


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
                check_envelope(env)
                self._check_sign_no(env)
                output = self._dispatch(env, now)
                response = platform_answer(env, now, True, "", output, text_codes=self.text_codes)
            except (Refusal, KeyError) as exc:  # a KeyError: a field the checks let through as empty
                self.db.execute("ROLLBACK TO work")  # a refusal leaves nothing behind but its answer
                stats.refused += 1
                response = platform_answer(
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


def check_envelope(env: Any) -> None:
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


def platform_answer(
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
