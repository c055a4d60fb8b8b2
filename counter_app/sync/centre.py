"""A reference insurance centre over HTTP, for tests, training and the sync bench.

    counter-app centre [--host 127.0.0.1] [--port 8765] [--db centre.sqlite3]

It keeps its own SQLite database, validates each envelope, answers a repeated msgid with its
first answer (so a counter that retries never settles twice), answers 3201/3202 reconciliation,
and takes faults at run time for tests and training:

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
import re
import secrets
import signal
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from aiohttp import web

from . import fields as F
from .gateway import TRAINING_PAASID, TRAINING_PASSTOKEN, Verifier

_MONEY = re.compile(r"-?\d{1,12}\.\d{2}")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    msgid TEXT PRIMARY KEY, infno TEXT NOT NULL, fixmedins_code TEXT NOT NULL, received_at TEXT NOT NULL,
    response TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS record (
    id INTEGER PRIMARY KEY, setl_id TEXT UNIQUE NOT NULL, msgid TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
    fixmedins_code TEXT NOT NULL, psn_no TEXT NOT NULL, insutype TEXT NOT NULL, setl_no TEXT NOT NULL,
    setl_date TEXT NOT NULL, medfee_sumamt TEXT NOT NULL, fund_pay_sumamt TEXT NOT NULL, acct_pay TEXT NOT NULL,
    acct_mulaid_pay TEXT NOT NULL, psn_cash_pay TEXT NOT NULL, cancels TEXT, status TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS record_day ON record (fixmedins_code, setl_date);
"""


class Refusal(Exception):
    """A message the centre will never accept (answered with infcode -1 and the reason)."""


FAULT_MODES = ("none", "delay", "hold", "error500", "reject", "drop_after_commit", "refuse")
ADMIN_HOST = "127.0.0.1"  # the admin endpoints are never reachable from another machine


@dataclass
class Faults:
    """The fault for the next `count` requests, after letting `after` requests through."""

    mode: str = "none"
    count: int = 0
    seconds: float = 0.0
    after: int = 0

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
    """The centre's own database: every message and its answer, and the settlement records."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.serial = self.db.execute("SELECT count(*) FROM record").fetchone()[0]

    def answer(self, env: dict[str, Any], now: dt.datetime, stats: Stats) -> tuple[dict[str, Any], bool]:
        """(response, duplicate): one transaction per message; a repeat gets the stored answer."""
        msgid = env.get("msgid")
        if isinstance(msgid, str):
            row = self.db.execute("SELECT response FROM message WHERE msgid = ?", (msgid,)).fetchone()
            if row:
                stats.duplicates += 1
                return json.loads(row[0]), True
        self.db.execute("BEGIN IMMEDIATE")
        try:
            try:
                _check_envelope(env)
                output = self._dispatch(env, now)
                response = _response(env, now, F.SUCCESS, "", output)
            except Refusal as exc:
                stats.refused += 1
                response = _response(env, now, "-1", str(exc), {})
            if isinstance(msgid, str) and len(msgid) == F.MSGID_LENGTH:
                self.db.execute("INSERT INTO message VALUES (?, ?, ?, ?, ?)",
                                (msgid, str(env.get("infno")), str(env.get("fixmedins_code")), now.isoformat(),
                                 json.dumps(response, ensure_ascii=False)))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return response, False

    def _dispatch(self, env: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
        infno, data = env["infno"], env["input"].get("data")
        if not isinstance(data, dict):
            raise Refusal("input.data 缺失或不是对象")
        if infno in F.SETTLE_INFNOS:
            return self._settle(env, data)
        if infno in F.CANCEL_INFNOS:
            return self._cancel(env, data)
        if infno == F.REVERSAL:
            return self._reverse(env, data)
        if infno == F.RECONCILE_TOTALS:
            return self._totals(env, data)
        if infno == F.RECONCILE_DETAIL:
            return self._detail(env, data)
        if infno == F.SIGN_IN:
            return {"signinoutb": {"sign_no": f"S{now:%Y%m%d%H%M%S}", "sign_time": F.inf_time(now)}}
        raise Refusal(f"不支持的交易 {infno}")

    def _next_setl_id(self) -> str:
        self.serial += 1
        return f"C{self.serial:012d}"

    def _settle(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        amounts = _amounts(data, F.SETL_AMOUNTS)
        if amounts["medfee_sumamt"] != amounts["fund_pay_sumamt"] + amounts["acct_pay"] + amounts["psn_cash_pay"]:
            raise Refusal("medfee_sumamt ≠ fund_pay_sumamt + acct_pay + psn_cash_pay")
        for key in ("psn_no", "insutype", "med_type", "setl_no", "setl_time"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise Refusal(f"input.data.{key} 缺失")
        if data.get("medins_setl_id") != env["msgid"]:
            raise Refusal("medins_setl_id 应与 msgid 相同")
        setl_id = self._next_setl_id()
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status) "
            "VALUES (?, ?, 'settle', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 'settled')",
            (setl_id, env["msgid"], env["fixmedins_code"], data["psn_no"], data["insutype"], data["setl_no"],
             data["setl_time"][:10], *(data[k] for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay",
                                                           "acct_mulaid_pay", "psn_cash_pay"))))
        setlinfo = {k: data[k] for k in F.SETL_AMOUNTS}
        setlinfo.update(setl_id=setl_id, psn_no=data["psn_no"], medins_setl_id=env["msgid"], insutype=data["insutype"])
        detail = [{"fund_pay_type": F.FUND_EMPLOYEE_POOLING, "fund_payamt": data["hifp_pay"]},
                  {"fund_pay_type": F.FUND_EMPLOYEE_ACCOUNT, "fund_payamt": data["acct_pay"]}]
        return {"setlinfo": setlinfo, "setldetail": detail}

    def _cancel(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        original = self.db.execute(
            "SELECT setl_id, psn_no, insutype, medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, "
            "psn_cash_pay, status FROM record WHERE setl_id = ? AND fixmedins_code = ?",
            (data.get("setl_id"), env["fixmedins_code"])).fetchone()
        if original is None:
            raise Refusal(f"原结算 {data.get('setl_id')} 不存在")
        if original[1] != data.get("psn_no"):
            raise Refusal("撤销的人员编号与原结算不符")
        if original[8] != "settled":
            raise Refusal(f"原结算 {original[0]} 已{'撤销' if original[8] == 'cancelled' else '冲正'}")
        setl_id = self._next_setl_id()
        negated = [str(Decimal(0) - Decimal(v)) for v in original[3:8]]
        self.db.execute(
            "INSERT INTO record (setl_id, msgid, kind, fixmedins_code, psn_no, insutype, setl_no, setl_date, "
            "medfee_sumamt, fund_pay_sumamt, acct_pay, acct_mulaid_pay, psn_cash_pay, cancels, status) "
            "VALUES (?, ?, 'cancel', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'settled')",
            (setl_id, env["msgid"], env["fixmedins_code"], original[1], original[2], str(data.get("setl_no", "")),
             str(data.get("setl_time") or env["inf_time"])[:10], *negated, original[0]))
        self.db.execute("UPDATE record SET status = 'cancelled' WHERE setl_id = ?", (original[0],))
        keys = ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay")
        return {"setlinfo": dict(zip(keys, negated), setl_id=setl_id, psn_no=original[1])}

    def _reverse(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        row = self.db.execute("SELECT setl_id, status FROM record WHERE msgid = ?", (data.get("omsgid"),)).fetchone()
        if row is None:
            return {"result": "原交易不存在，无需冲正"}
        self.db.execute("UPDATE record SET status = 'reversed' WHERE setl_id = ?", (row[0],))
        return {"result": f"已冲正 {row[0]}"}

    def _records(self, code: str, data: dict[str, Any], insutype: str | None) -> list[tuple]:
        begin, end = data.get("stmt_begndate"), data.get("stmt_enddate")
        if not (isinstance(begin, str) and isinstance(end, str)):
            raise Refusal("stmt_begndate / stmt_enddate 缺失")
        sql = ("SELECT setl_no, msgid, insutype, medfee_sumamt, fund_pay_sumamt, acct_pay FROM record "
               "WHERE fixmedins_code = ? AND setl_date BETWEEN ? AND ? AND status != 'reversed'")
        args: list[Any] = [code, begin, end]
        if insutype:
            sql += " AND insutype = ?"
            args.append(insutype)
        return self.db.execute(sql + " ORDER BY id", args).fetchall()

    def _totals(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        rows = self._records(env["fixmedins_code"], data, data.get("insutype"))
        sums = {k: sum((Decimal(r[3 + i]) for r in rows), Decimal("0.00")) for i, k in enumerate(F.RECONCILE_AMOUNTS)}
        sent = _amounts(data, F.RECONCILE_AMOUNTS)
        count = data.get("fixmedins_setl_cnt")
        ties = sums == sent and count == len(rows)
        text = "平" if ties else (f"不平：中心 {len(rows)} 笔 " + " ".join(f"{k}={v}" for k, v in sums.items()))
        return {"stmtinfo": {"stmt_rslt": "0" if ties else "1", "stmt_rslt_dscr": text, "fixmedins_setl_cnt": len(rows),
                             **{k: str(v) for k, v in sums.items()}}}

    def _detail(self, env: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        rows = self._records(env["fixmedins_code"], data, data.get("insutype"))
        return {"records": [{"setl_no": r[0], "medins_setl_id": r[1], "insutype": r[2],
                             **dict(zip(F.RECONCILE_AMOUNTS, r[3:6]))} for r in rows]}

    def stats(self, stats: Stats) -> dict[str, Any]:
        counts = dict(self.db.execute("SELECT kind || ':' || status, count(*) FROM record GROUP BY 1").fetchall())
        return {"messages": stats.messages, "duplicates": stats.duplicates, "refused": stats.refused,
                "by_infno": stats.by_infno, "records": counts,
                "stored_messages": self.db.execute("SELECT count(*) FROM message").fetchone()[0]}


def _check_envelope(env: Any) -> None:
    if not isinstance(env, dict):
        raise Refusal("报文不是 JSON 对象")
    missing = [k for k in F.ENVELOPE_FIELDS if k not in env]
    if missing:
        raise Refusal(f"报文缺少字段：{', '.join(missing)}")
    if env["infno"] not in F.KNOWN_INFNOS:
        raise Refusal(f"未知交易编号 {env['infno']}")
    msgid, code = env["msgid"], env["fixmedins_code"]
    if not isinstance(msgid, str) or len(msgid) != F.MSGID_LENGTH or not msgid.startswith(str(code)):
        raise Refusal("msgid 应为 30 位：机构编码(12) + 时间(14) + 序号(4)")
    try:
        dt.datetime.strptime(str(env["inf_time"]), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise Refusal("inf_time 应为 yyyy-MM-dd HH:mm:ss") from None
    if not isinstance(env["input"], dict):
        raise Refusal("input 应为对象")


def _amounts(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Decimal]:
    out = {}
    for key in keys:
        value = data.get(key)
        if not isinstance(value, str) or not _MONEY.fullmatch(value):
            raise Refusal(f"input.data.{key} 应为两位小数的金额字符串，收到 {value!r}")
        try:
            out[key] = Decimal(value)
        except InvalidOperation:
            raise Refusal(f"input.data.{key} 不是金额") from None
    return out


def _response(env: Any, now: dt.datetime, infcode: str, err_msg: str, output: dict[str, Any]) -> dict[str, Any]:
    stamp = now.strftime("%Y%m%d%H%M%S%f")[:17]
    admvs = env.get("mdtrtarea_admvs", "") if isinstance(env, dict) else ""
    return {"infcode": infcode, "inf_refmsgid": f"{str(admvs)[:6]:0<6}{now:%Y%m%d%H%M%S}{now.microsecond:010d}",
            "refmsg_time": stamp, "respond_time": stamp, "err_msg": err_msg, "output": output}


class Centre:
    """The aiohttp application and its listening site (restartable, for the `refuse` fault), and
    the admin application on its own site, bound to loopback only and asking for a token."""

    def __init__(self, store: CentreStore, host: str, port: int, *, admin_port: int = 0,
                 admin_token: str | None = None, passtokens: dict[str, str] | None = None) -> None:
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
            return web.json_response({"infcode": "-1", "err_msg": refusal}, status=401,
                                     dumps=lambda o: json.dumps(o, ensure_ascii=False))
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
        try:
            env = await request.json(loads=json.loads)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return web.json_response(_response({}, dt.datetime.now(), "-1", "报文不是合法 JSON", {}))
        infno = str(env.get("infno")) if isinstance(env, dict) else "?"
        self.stats.by_infno[infno] = self.stats.by_infno.get(infno, 0) + 1
        if mode == "reject":
            return web.json_response(_response(env, dt.datetime.now(), "-1", "injected rejection", {}))
        response, _duplicate = self.store.answer(env, dt.datetime.now(), self.stats)
        if mode == "drop_after_commit" and request.transport is not None:
            request.transport.close()  # committed, but the counter never hears back
        return web.json_response(response, dumps=lambda o: json.dumps(o, ensure_ascii=False))

    @web.middleware
    async def _admin_guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.admin_token.encode()):
            return web.json_response({"ok": False, "error": "admin token missing or wrong"}, status=401)
        return await handler(request)

    async def set_faults(self, request: web.Request) -> web.Response:
        """Faults for the next requests; mode "none" clears them, lets held requests go and
        listens again. "refuse" with no seconds stops listening until cleared."""
        try:
            body = await request.json()
            mode = str(body.get("mode", "none"))
            faults = Faults(mode, int(body.get("count", 1)), float(body.get("seconds", 0)), int(body.get("after", 0)))
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
        return web.json_response(self.store.stats(self.stats) | {"held": self.stats.held, "refusing": self.refusing,
                                                                   "unsigned": self.stats.unsigned})


def serve(host: str, port: int, db_path: Path, *, admin_port: int = 0, admin_token: str | None = None,
          passtokens: dict[str, str] | None = None) -> None:
    """Run until interrupted; prints the URLs it listens on (port 0 picks a free port)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # Explicit handlers: a process started in the background inherits SIGINT ignored, and
        # SIGTERM is what service managers and tests send.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        centre = Centre(CentreStore(db_path), host, port, admin_port=admin_port, admin_token=admin_token,
                        passtokens=passtokens)
        bound = await centre.start()
        print(f"centre listening on http://{host}:{bound} (database {db_path}); "
              f"admin http://{ADMIN_HOST}:{centre.admin_port} token {centre.admin_token}; "
              f"accepts paasid {', '.join(sorted(centre.gateway.passtokens))}", flush=True)
        await stop.wait()
        centre.released.set()  # let held requests go before the runners stop
        await centre.runner.cleanup()
        await centre.admin_runner.cleanup()

    asyncio.run(main())
