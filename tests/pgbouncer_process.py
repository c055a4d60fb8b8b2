"""A real PgBouncer (Debian's package) in transaction mode, for the test and the bench that go
through one (issue 28)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

PGBOUNCER = shutil.which("pgbouncer") or (
    "/usr/sbin/pgbouncer" if Path("/usr/sbin/pgbouncer").exists() else None
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(url: str, *, pool_size: int, max_clients: int) -> tuple[subprocess.Popen, str]:
    """PgBouncer pooling `url`'s database through `pool_size` server connections; the process,
    once it accepts connections, and the database's URL through it."""
    if PGBOUNCER is None:
        raise RuntimeError("pgbouncer is not installed (Debian: apt install pgbouncer)")
    target = make_url(url)
    folder = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    folder.chmod(0o777)  # PgBouncer runs as nobody when started as root: its log and pid go here
    port = _free_port()
    (folder / "users.txt").write_text('"postgres" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\n{target.database} = host={target.host} port={target.port or 5432} dbname={target.database}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nauth_type = trust\n"
        f"auth_file = {folder / 'users.txt'}\npool_mode = transaction\ndefault_pool_size = {pool_size}\n"
        f"max_client_conn = {max_clients}\nunix_socket_dir =\nlogfile = {folder / 'log.txt'}\n"
        f"pidfile = {folder / 'pid'}\n"
    )
    for path in folder.iterdir():
        path.chmod(0o666)
    command = [PGBOUNCER, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        command[1:1] = ["-u", "nobody"]
    output = (
        folder / "output.txt"
    )  # a file, not a pipe: at 100 counters its log would fill a pipe and stall it
    with output.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:  # wait until it accepts connections (a condition, not a fixed sleep)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {output.read_text()[:500]}") from None
    return process, target.set(port=port).render_as_string(hide_password=False)
