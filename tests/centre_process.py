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

    def __init__(self, folder: Path, port: int = 0, *, registry: str | None = None, policies: Path | None = None,
                 profile: str = "national", record: bool = True, inpatient: Path | None = None,
                 demo: bool = False) -> None:
        self.folder, self.port = folder, port
        self.options = ["--registry", registry] if registry else []
        if demo:
            self.options.append("--demo")
        if policies:
            self.options += ["--policies", str(policies)]
        self.options += ["--profile", profile]
        if inpatient:
            self.options += ["--inpatient", str(inpatient)]
        self.record = folder / "centre-requests.jsonl" if record else None
        if self.record:
            self.options += ["--record", str(self.record)]
        self.proc: subprocess.Popen | None = None

    def start(self) -> "CentreProcess":
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "counter_app", "centre", "--port", str(self.port),
             "--centre-db", str(self.folder / "centre.sqlite3"), *self.options],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=open(self.folder / "centre-stderr.txt", "a"), text=True)
        line = self.proc.stdout.readline()
        assert "centre listening on" in line, (self.folder / "centre-stderr.txt").read_text()
        words = line.split()
        self.url = words[3]
        self.port = int(self.url.rsplit(":", 1)[1])
        self.admin_url, self.token = words[words.index("admin") + 1], words[words.index("token") + 1].rstrip(";")
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
        return httpx.get(f"{self.admin_url}/_admin/stats", headers=self._admin(), params=params,
                         timeout=600).json()

    def fault(self, mode: str, count: int = 1, seconds: float = 0, after: int = 0) -> None:
        reply = httpx.post(f"{self.admin_url}/_admin/faults", headers=self._admin(),
                           json={"mode": mode, "count": count, "seconds": seconds, "after": after})
        assert reply.json()["ok"], reply.text




    def requests(self) -> list[dict]:
        """Every request the centre received, as sent (money read back as Decimal)."""
        if not self.record or not self.record.exists():
            return []
        return [json.loads(line, parse_float=Decimal) for line in self.record.read_text(encoding="utf-8").splitlines()
                if line.strip()]
