"""Faults mid-transaction: nothing lost, nothing applied twice.

Serves the app with bin/serve on a PostgreSQL cluster and a Redis of its own (created here and
removed afterwards, so that the machine's own servers are never touched) and drives concurrent
debits and credits from a retrying caller (timeouts, random duplicate request_ids), while it
  - kills granian worker processes with SIGKILL at random moments (granian respawns them),
  - restarts PostgreSQL once in the middle,
  - stops Redis (the rate limit's shared counts) until the end of the load,
  - gives the caller a short timeout, so that some answers never arrive and are retried.
Afterwards it retries every request that never got a definite answer, then checks: ledger_verify
passes; every request_id that received a 201 is applied exactly once with the same answer; every
other is applied at most once and its retry gets the stored answer; no balance is negative.

Usage: bench/faults [--seconds 60] [--threads 8]   (root: it creates a PostgreSQL cluster with
pg_createcluster on port 5440 and a Redis on port 6391)
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from caller import Caller
from common import PYTHON, ROOT, prepare, server_env, sh, wait_ready, workers_of
from common import stop as server_stop

DB = "b2b_faults"
BALANCES = 200
PG_CLUSTER, PG_PORT = "b2bfaults", "5440"
REDIS_PORT = "6391"
PG_VERSION = sorted(os.listdir("/etc/postgresql"), key=lambda v: [int(p) for p in v.split(".")])[-1] \
    if os.path.isdir("/etc/postgresql") else ""


def pg_cluster(action: str) -> None:
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, PG_CLUSTER, action], check=True,
                   capture_output=True)


def own_postgresql() -> None:
    """A throw-away cluster: restarting it mid-run disturbs nothing else on the machine."""
    subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, PG_CLUSTER], capture_output=True)
    subprocess.run(["pg_createcluster", "--quiet", "-p", PG_PORT, "--start-conf=manual", PG_VERSION, PG_CLUSTER,
                    "--", "--auth=trust"], check=True, capture_output=True)
    pg_cluster("start")
    os.environ["PGPORT"] = PG_PORT  # for psql, createdb, dropdb and common.server_env


def redis_start() -> None:
    subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", REDIS_PORT,
                    "--save", "", "--appendonly", "no"], check=True, capture_output=True)
    for _ in range(50):
        if subprocess.run(["redis-cli", "-p", REDIS_PORT, "ping"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)


def redis_stop() -> None:
    subprocess.run(["redis-cli", "-p", REDIS_PORT, "shutdown", "nosave"], capture_output=True)


def teardown() -> None:
    redis_stop()
    subprocess.run(["pg_dropcluster", "--stop", PG_VERSION, PG_CLUSTER], capture_output=True)


def psql(sql: str) -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-tA", "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if os.geteuid() != 0 or not PG_VERSION:
        print("faults: needs root and Debian's PostgreSQL (pg_createcluster)", file=sys.stderr)
        return 2
    own_postgresql()
    redis_start()
    try:
        return run(args)
    finally:
        teardown()


def run(args) -> int:
    rng = random.Random(7)
    work = Path(tempfile.mkdtemp(prefix="b2b-faults-"))
    port = 8767
    env = server_env(DB, work, port, GRANIAN_WORKERS="2", REQUEST_LOG_LEVEL="WARNING",
                     REDIS_URL=f"redis://127.0.0.1:{REDIS_PORT}/0")
    token = prepare(DB, work, env, balances=BALANCES)
    log = open(work / "server.log", "w")

    def serve():
        # What systemd (or any supervisor) does in production: start it, and start it again if
        # granian gives up after a burst of worker deaths (its crash-loop guard).
        process = subprocess.Popen([str(ROOT / "bin" / "serve")], cwd=ROOT, env=env, start_new_session=True,
                                   stdout=log, stderr=subprocess.STDOUT)
        wait_ready(f"http://127.0.0.1:{port}/v1/customers/c1/balances/b1_USD")
        return process

    server = serve()

    caller = Caller(f"http://127.0.0.1:{port}", token, BALANCES, log=lambda line: print(f"faults: {line}", flush=True))
    caller.start(args.threads)
    started = time.monotonic()
    restarted = redis_stopped = False
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(rng.uniform(1.0, 4.0))
            if server.poll() is not None:
                caller.counts["server restarts by the supervisor"] += 1
                server = serve()
            workers = workers_of(server.pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                caller.counts["workers killed"] += 1
            elapsed = time.monotonic() - started
            if not restarted and elapsed > args.seconds / 2:
                pg_cluster("restart")
                restarted = True
                caller.counts["postgresql restarts"] += 1
            if not redis_stopped and elapsed > args.seconds / 3:
                redis_stop()
                redis_stopped = True
                caller.counts["redis stops"] += 1
    finally:
        caller.join()
        if redis_stopped:
            redis_start()

    def keep_serving(server):
        # granian's crash-loop guard, tripped by the last kills, exits a moment after them: wait
        # for it to settle, then restart the server as the supervisor would.
        time.sleep(2)
        if server.poll() is not None:
            caller.counts["server restarts by the supervisor"] += 1
            server = serve()
        return server

    # Every request without a definite answer is sent once more, now that everything is up.
    server = keep_serving(server)
    caller.retry_unanswered()
    server = keep_serving(server)
    caller.replay_sample(rng)

    if server_stop(server):
        caller.counts["server stops forced with SIGKILL"] += 1
    applied = dict(tuple(line.split("|")) for line in psql(
        "SELECT o.request_id, count(e.id) FROM balances_operation o LEFT JOIN balances_ledgerentry e "
        "ON e.operation_id = o.id WHERE o.request_id LIKE 'f-%' GROUP BY o.request_id").split())
    caller.check({rid: int(n) for rid, n in applied.items()})
    counts = caller.counts
    negative = int(psql("SELECT count(*) FROM balances_balance WHERE amount < 0").strip())
    verify = sh(PYTHON, "manage.py", "ledger_verify", env=env, check=False).strip()
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB])

    for line in caller.lines(("requests", "duplicates sent", "workers killed", "server restarts by the supervisor",
                              "postgresql restarts", "redis stops", "server stops forced with SIGKILL", "retries",
                              "no answer", "final retries", "applied", "replayed (201 seen more than once)",
                              "replay checks", "replay mismatches", "different 201 bodies for one request_id",
                              "lost", "doubled"), 42):
        print(f"faults: {line}")
    print(f"faults: {'negative balances':42s} {negative}")
    print(f"faults: {verify}")
    ok = (counts["lost"] == 0 and counts["doubled"] == 0 and counts["replay mismatches"] == 0 and negative == 0
          and counts["different 201 bodies for one request_id"] == 0 and verify.startswith("ledger_verify: OK")
          and counts["workers killed"] > 0 and counts["postgresql restarts"] == 1)
    print(f"faults: {'nothing lost, nothing doubled' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
