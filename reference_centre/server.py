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
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web

from counter_app.sync import fields as F
from counter_app.sync import wire
from counter_app.sync.gateway import TRAINING_PAASID, TRAINING_PASSTOKEN

from .answers import CentreStore, Stats, check_envelope, platform_answer
from .gateway import Verifier
from .inputs import Refusal

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
                platform_answer(
                    {}, dt.datetime.now(), False, "报文不是合法 JSON", {}, text_codes=self.store.text_codes
                )
            )
        infno = str(env.get("infno")) if isinstance(env, dict) else "?"
        self.stats.by_infno[infno] = self.stats.by_infno.get(infno, 0) + 1
        if mode == "reject":
            return _json(
                platform_answer(
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
                check_envelope(env)
                content = self.store.file(env)
                if content is None:
                    raise Refusal("文件不存在或已过期")
            except Refusal as exc:
                return _json(
                    platform_answer(
                        env, dt.datetime.now(), False, str(exc), {}, text_codes=self.store.text_codes
                    )
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
