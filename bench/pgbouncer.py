"""A throw-away PgBouncer (Debian's package) in front of a PostgreSQL server, for the benchmark
and the tests: its own ini, user list, log and pid file in a directory of its own, listening on
a port of its own, so that nothing on the machine is touched. PgBouncer refuses to run as root:
as root it runs as the `postgres` OS user.

Transaction mode, as it is deployed in front of this app (docs/operations.md, "Poolers"): the
client's `options` start-up parameter (where the app sends its timeouts) is ignored, so the
timeouts must come from the role (ALTER ROLE … SET) or from the server's configuration.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def available() -> bool:
    return shutil.which("pgbouncer") is not None and (os.geteuid() != 0 or _postgres_user() is not None)


def _postgres_user():
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def start(directory: Path | None = None, *, port: int, server_port: int = 5432, users: tuple[str, ...] = ("postgres",),
          pool_mode: str = "transaction", pool_size: int = 8) -> subprocess.Popen:
    """PgBouncer on 127.0.0.1:`port`, pooling every database of 127.0.0.1:`server_port` for `users`
    (authentication is left to PostgreSQL's pg_hba: trust here). Ready when this returns. Its
    files go to `directory`, by default a new one in /tmp (where the postgres user can reach it)."""
    own = directory is None
    directory = Path(tempfile.mkdtemp(prefix="b2b-pgbouncer-")) if own else directory
    directory.mkdir(parents=True, exist_ok=True)
    userlist = directory / "userlist.txt"
    userlist.write_text("".join(f'"{user}" ""\n' for user in users))
    ini = directory / "pgbouncer.ini"
    ini.write_text(f"""\
[databases]
* = host=127.0.0.1 port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {userlist}
pool_mode = {pool_mode}
default_pool_size = {pool_size}
max_client_conn = 500
ignore_startup_parameters = options
server_reset_query =
logfile = {directory / "pgbouncer.log"}
pidfile = {directory / "pgbouncer.pid"}
""")
    command = ["pgbouncer", str(ini)]
    if os.geteuid() == 0:
        user = _postgres_user()
        os.chown(directory, user.pw_uid, user.pw_gid)
        for path in directory.iterdir():
            os.chown(path, user.pw_uid, user.pw_gid)
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    process.own_directory = directory if own else None  # removed by stop()
    deadline = time.time() + 15
    while time.time() < deadline:
        if process.poll() is not None:
            log = directory / "pgbouncer.log"
            raise RuntimeError(f"pgbouncer exited: {log.read_text() if log.exists() else process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"pgbouncer did not listen on {port}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to PgBouncer (runuser passes it on), SIGKILL to its group if it lingers; the
    directory start() made for it goes too."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
    if getattr(process, "own_directory", None) is not None:
        shutil.rmtree(process.own_directory, ignore_errors=True)
