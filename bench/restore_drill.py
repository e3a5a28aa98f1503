"""Backup and point-in-time restore, drilled: the balances come back exactly as they were.

On a throw-away PostgreSQL cluster of its own (pg_createcluster on a spare port; removed
afterwards) with WAL archived to a pgBackRest repository in a temporary directory:
  1. a fresh ledger (migrations, funded balances) and a full backup;
  2. load through the app's real ledger path (bin/serve and the retrying caller of bench/caller.py);
  3. a moment T, noted while the load goes on: the ledger entries are locked in SHARE mode for a
     few milliseconds (writers wait, none fails), T is read from the server's clock and every
     balance is captured — everything committed before T is in the capture, nothing after;
  4. more load, then the last WAL archived;
  5. a restore into a NEW cluster (`pgbackrest restore --type=time --target=T`), started and promoted.
It checks there that `ledger_verify` passes and every balance equals the captured one (and that
the load after T is really absent), and prints the figures.

Usage: bench/restore-drill [--seconds 5] [--threads 4]   (root: pg_createcluster, pgBackRest as postgres)
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from caller import Caller
from common import PYTHON, ensure_packages, port_free, prepare, psql_at, serve, server_env, sh, stop

DB = "b2b_ha_drill"
STANZA = "b2b"
BALANCES = 50
PG_VERSION = "15"
SOURCE, SOURCE_PORT = "b2bhadrill", 5461
TARGET, TARGET_PORT = "b2bhadrillr", 5462
APP_PORT = 8770
CAPTURE = "SELECT balance_id, amount::text FROM balances_balance ORDER BY balance_id"


def say(line: str) -> None:
    print(f"restore-drill: {line}", flush=True)


def as_postgres(*cmd: str) -> str:
    user = pwd.getpwnam("postgres")
    result = subprocess.run(cmd, user=user.pw_uid, group=user.pw_gid, cwd="/tmp", text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout}")
    return result.stdout


def cluster(*args: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *args], check=True, capture_output=True)


def drop_clusters() -> None:
    for name in (SOURCE, TARGET):
        subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, name], capture_output=True)
        shutil.rmtree(f"/etc/postgresql/{PG_VERSION}/{name}", ignore_errors=True)  # our archiving.conf


def data_dir(name: str) -> Path:
    return Path(f"/var/lib/postgresql/{PG_VERSION}/{name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5, help="seconds of load before and after T")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    if os.geteuid() != 0:
        say("needs root (pg_createcluster; pgBackRest runs as postgres)")
        return 2
    ensure_packages({"pgbackrest": "pgbackrest", "pg_createcluster": "postgresql-common",
                     f"/usr/lib/postgresql/{PG_VERSION}/bin/postgres": f"postgresql-{PG_VERSION}"})
    taken = [port for port in (SOURCE_PORT, TARGET_PORT, APP_PORT) if not port_free(port)]
    if taken:
        say(f"ports taken: {taken} (a run left over?)")
        return 2
    work = Path(tempfile.mkdtemp(prefix="b2b-restore-drill-"))
    user = pwd.getpwnam("postgres")
    os.chown(work, user.pw_uid, user.pw_gid)
    drop_clusters()
    try:
        return run(work, args)
    finally:
        drop_clusters()
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, args) -> int:
    started = time.monotonic()
    config = work / "pgbackrest.conf"
    config.write_text(f"""[global]
repo1-path={work / "repo"}
repo1-retention-full=2
lock-path={work / "lock"}
log-path={work / "log"}
log-level-console=warn
log-level-file=info
compress-type=lz4
start-fast=y

[{STANZA}]
pg1-path={data_dir(SOURCE)}
pg1-port={SOURCE_PORT}
pg1-socket-path=/var/run/postgresql
""")
    backrest = ["pgbackrest", f"--config={config}", f"--stanza={STANZA}"]

    subprocess.run(["pg_createcluster", "--quiet", "-p", str(SOURCE_PORT), "--start-conf=manual", PG_VERSION, SOURCE,
                    "--", "--auth=trust"], check=True, capture_output=True)
    Path(f"/etc/postgresql/{PG_VERSION}/{SOURCE}/conf.d/archiving.conf").write_text(
        "archive_mode = on\n"
        f"archive_command = '{' '.join(backrest)} archive-push %p'\n"
        "archive_timeout = 60\n")
    cluster(PG_VERSION, SOURCE, "start")
    as_postgres(*backrest, "stanza-create")

    os.environ["PGPORT"] = str(SOURCE_PORT)  # prepare()'s createdb and psql
    env = server_env(DB, work, APP_PORT, GRANIAN_WORKERS="2", REQUEST_LOG_LEVEL="WARNING", REDIS_URL="",
                     B2B_API_RATE_PER_CUSTOMER="")
    token = prepare(DB, work, env, balances=BALANCES)
    as_postgres(*backrest, "check")

    began = time.monotonic()
    as_postgres(*backrest, "--type=full", "backup")
    backup_seconds = time.monotonic() - began

    server = serve(env, work / "server.log")
    caller = Caller(f"http://127.0.0.1:{APP_PORT}", token, BALANCES, timeout=5, attempts=50, duplicates=0.1,
                    prefix="drill-", log=say)
    try:
        caller.start(args.threads)
        try:
            time.sleep(args.seconds)
            moment, captured, entries_at_moment, lock_ms = capture(SOURCE_PORT)
            time.sleep(args.seconds)
        finally:
            caller.join()
    finally:
        stop(server)
    entries_at_end = int(psql_at(SOURCE_PORT, DB, "SELECT count(*) FROM balances_ledgerentry").strip())
    at_end = psql_at(SOURCE_PORT, DB, CAPTURE)
    as_postgres(*backrest, "check")  # switches WAL and waits until the segment is archived: T is covered
    cluster(PG_VERSION, SOURCE, "stop")  # the old server is gone; only the repository is left

    subprocess.run(["pg_createcluster", "--quiet", "-p", str(TARGET_PORT), "--start-conf=manual", PG_VERSION, TARGET,
                    "--", "--auth=trust"], check=True, capture_output=True)
    for item in data_dir(TARGET).iterdir():  # a restore goes into an empty data directory
        shutil.rmtree(item) if item.is_dir() else item.unlink()
    began = time.monotonic()
    as_postgres(*backrest, f"--pg1-path={data_dir(TARGET)}", "--type=time", f"--target={moment}",
                "--target-action=promote", "restore")
    cluster(PG_VERSION, TARGET, "start")
    wait_promoted(TARGET_PORT)
    restore_seconds = time.monotonic() - began

    restored = psql_at(TARGET_PORT, DB, CAPTURE)
    entries_restored = int(psql_at(TARGET_PORT, DB, "SELECT count(*) FROM balances_ledgerentry").strip())
    restored_env = {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{TARGET_PORT}/{DB}"}
    verify = sh(PYTHON, "manage.py", "ledger_verify", "--full", env=restored_env, check=False).strip()
    differing = sum(1 for a, b in zip(captured.splitlines(), restored.splitlines(), strict=False) if a != b)
    differing += abs(len(captured.splitlines()) - len(restored.splitlines()))
    changed_after = sum(1 for a, b in zip(captured.splitlines(), at_end.splitlines(), strict=False) if a != b)

    figures = {
        "requests (201)": f"{caller.counts['requests']} ({caller.counts['status 201']})",
        "full backup (s)": f"{backup_seconds:.1f}",
        "restore to T, started and promoted (s)": f"{restore_seconds:.1f}",
        "T (the server's clock)": moment,
        "ledger entries locked at T (ms)": f"{lock_ms:.0f}",
        "entries at T / at the end / restored": f"{entries_at_moment} / {entries_at_end} / {entries_restored}",
        "balances captured / changed after T / differing": f"{len(captured.splitlines())} / {changed_after} / "
                                                          f"{differing}",
        "bare 5xx": str(caller.counts["bare 5xx"]),
        "repository": du(work / "repo"),
    }
    for name, value in figures.items():
        say(f"{name:50s} {value}")
    say(verify)
    ok = (differing == 0 and entries_restored == entries_at_moment < entries_at_end and changed_after > 0
          and verify.startswith("ledger_verify --full: OK") and caller.counts["bare 5xx"] == 0
          and caller.counts["status 500"] == 0)
    say(f"took {time.monotonic() - started:.0f} s")
    say("restored exactly as at T" if ok else "FAILED")
    return 0 if ok else 1


def capture(port: int) -> tuple[str, str, int, float]:
    """(T, the balances at T as psql prints CAPTURE, entries at T, milliseconds the lock was held),
    while the load goes on: the SHARE lock waits for the writers in flight to commit and holds new
    ones back, so T splits the commits cleanly in two."""
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname=DB, autocommit=False) as conn:
        began = time.monotonic()
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # An autovacuum on these tables would make the lock wait until the deadlock check cancels it.
        conn.execute("SET LOCAL deadlock_timeout = '20ms'")
        # Every change of a balance appends an entry in the same transaction: a SHARE lock on the
        # entries waits for the writers past their insert to commit, and holds back the others
        # (one table only, so the lock never takes part in a deadlock).
        conn.execute("LOCK TABLE balances_ledgerentry IN SHARE MODE")
        moment = conn.execute("SELECT clock_timestamp()::text").fetchone()[0]
        rows = conn.execute(CAPTURE).fetchall()
        entries = conn.execute("SELECT count(*) FROM balances_ledgerentry").fetchone()[0]
        conn.rollback()  # nothing written: no commit record of its own
        held = (time.monotonic() - began) * 1000
    return moment, "".join(f"{b}|{a}\n" for b, a in rows), entries, held


def wait_promoted(port: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psql_at(port, "postgres", "SELECT pg_is_in_recovery()").strip() == "f":
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.2)
    raise SystemExit("restore-drill: the restored cluster did not finish recovery")


def du(path: Path) -> str:
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return f"{size / 1e6:.1f} MB"


if __name__ == "__main__":
    sys.exit(main())
