"""A reference centre (`counter-app centre`) in its own process, for tests that talk to it."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


class CentreProcess:
    """A reference centre in its own process, on a free port, with its own database."""

    def __init__(
        self,
        folder: Path,
        port: int = 0,
        *,
        registry: str | None = None,
        policies: Path | None = None,
        profile: str = "national",
        record: bool = True,
        inpatient: Path | None = None,
        demo: bool = False,
        registry_file: Path | None = None,
        infcode: str = "number",
        extra: tuple[str, ...] = (),
    ) -> None:
        """`registry`: a test world's database, whose population is handed to the centre as a
        registry file (as an agency would: the centre keeps its own registry from then on);
        `registry_file`: such a file as it is."""
        self.folder, self.port = folder, port
        if registry and registry_file is None:
            from counter_app.registry_file import dump
            from counter_app.services.registry_export import export
            from counter_app.store import Database

            source = Database(registry, migrate=False, create=False)
            registry_file = folder / "registry.json"
            dump(export(source), registry_file)
            source.dispose()
        self.options = ["--registry", str(registry_file)] if registry_file else []
        if demo and registry:
            self.options += ["--demo", registry]
        self.options += ["--infcode", infcode, *extra]
        if policies:
            self.options += ["--policies", str(policies)]
        self.options += ["--profile", profile]
        if inpatient:
            self.options += ["--inpatient", str(inpatient)]
        self.record = folder / "centre-requests.jsonl" if record else None
        if self.record:
            self.options += ["--record", str(self.record)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> CentreProcess:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "counter_app",
                "centre",
                "--port",
                str(self.port),
                "--centre-db",
                str(self.folder / "centre.sqlite3"),
                *self.options,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=open(self.folder / "centre-stderr.txt", "a"),  # noqa: SIM115 - open for the process's life
            text=True,
        )
        line = self.proc.stdout.readline()
        assert "centre listening on" in line, (self.folder / "centre-stderr.txt").read_text()
        words = line.split()
        self.url = words[3]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.admin_url, self.token = (
            words[words.index("admin") + 1],
            words[words.index("token") + 1].rstrip(";"),
        )
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the centre shuts down cleanly
            self.proc.wait(timeout=120)

    def _admin(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def stats(self, held: int | None = None) -> dict:
        """The centre's stats; with `held`, once that many requests are held (the centre waits)."""
        params = {} if held is None else {"held": held}
        return httpx.get(
            f"{self.admin_url}/_admin/stats", headers=self._admin(), params=params, timeout=600
        ).json()

    def fault(self, mode: str, count: int = 1, seconds: float = 0, after: int = 0) -> None:
        reply = httpx.post(
            f"{self.admin_url}/_admin/faults",
            headers=self._admin(),
            json={"mode": mode, "count": count, "seconds": seconds, "after": after},
        )
        assert reply.json()["ok"], reply.text

    def answer_next(
        self, body: object = None, *, raw: str | None = None, count: int = 1, after: int = 0
    ) -> None:
        """The next `count` answers (after `after` others) replaced by `body` (any JSON) or `raw`
        text: a centre answering badly."""
        reply = httpx.post(
            f"{self.admin_url}/_admin/faults",
            headers=self._admin(),
            json={"mode": "answer", "count": count, "after": after, "body": body, "raw": raw},
        )
        assert reply.json()["ok"], reply.text

    def tamper_next(self, changes: dict, *, count: int = 1, after: int = 0) -> None:
        """The next real answers (committed at the centre) with fields changed: {"output.setlinfo.psn_no": …}."""
        reply = httpx.post(
            f"{self.admin_url}/_admin/faults",
            headers=self._admin(),
            json={"mode": "tamper", "count": count, "after": after, "set": changes},
        )
        assert reply.json()["ok"], reply.text

    def evoucher(self, psn_no: str) -> str:
        """A fresh e-voucher token for the person, as their phone would show it."""
        reply = httpx.post(
            f"{self.admin_url}/_admin/evoucher", headers=self._admin(), json={"psn_no": psn_no}
        )
        assert reply.json()["ok"], reply.text
        return reply.json()["token"]

    def requests(self) -> list[dict]:
        """Every request the centre received, as sent (money read back as Decimal)."""
        if not self.record or not self.record.exists():
            return []
        return [
            json.loads(line, parse_float=Decimal)
            for line in self.record.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
