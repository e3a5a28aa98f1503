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
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
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

    base = f"http://127.0.0.1:{port}"
    counts = Counter()
    answers: dict[str, list[tuple[int, bytes]]] = {}
    requests: dict[str, tuple[str, str, dict]] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def send(client, rid):
        path, op, payload = requests[rid]
        for attempt in range(6):
            if attempt:
                counts["retries"] += 1
                time.sleep(0.05 * attempt)
            try:
                response = client.post(f"{base}{path}/{op}", json=payload, timeout=0.25,
                                       headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                counts["no answer"] += 1
                if counts["no answer"] == 1:
                    print(f"faults: first unanswered call: {type(exc).__name__}: {exc}", flush=True)
                continue
            with lock:
                answers.setdefault(rid, []).append((response.status_code, response.content))
            if response.status_code in (201, 402):
                return
            counts[f"status {response.status_code}"] += 1

    def caller(seed):
        local = random.Random(seed)
        with httpx.Client() as client:
            while not stop.is_set():
                with lock:
                    known = list(requests)
                if known and local.random() < 0.2:  # a duplicate: the same request again
                    rid = local.choice(known)
                    counts["duplicates sent"] += 1
                else:
                    b = local.randint(1, BALANCES)
                    op = "credit" if local.random() < 0.55 else "debit"
                    rid = f"f-{uuid.uuid4().hex}"
                    payload = {"request_id": rid, "amount": f"{local.randint(1, 500)}.{local.randint(0, 99):02d}",
                               "currency_code": "USD", "comment": "faults", "force": local.random() < 0.1}
                    if op == "credit":
                        payload.pop("force")
                    with lock:
                        requests[rid] = (f"/v1/customers/c{b}/balances/b{b}_USD", op, payload)
                counts["requests"] += 1
                send(client, rid)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(args.threads)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    restarted = redis_stopped = False
    try:
        while time.monotonic() - started < args.seconds:
            time.sleep(rng.uniform(1.0, 4.0))
            if server.poll() is not None:
                counts["server restarts by the supervisor"] += 1
                server = serve()
            workers = workers_of(server.pid)
            if workers:
                os.kill(rng.choice(workers), signal.SIGKILL)
                counts["workers killed"] += 1
            elapsed = time.monotonic() - started
            if not restarted and elapsed > args.seconds / 2:
                pg_cluster("restart")
                restarted = True
                counts["postgresql restarts"] += 1
            if not redis_stopped and elapsed > args.seconds / 3:
                redis_stop()
                redis_stopped = True
                counts["redis stops"] += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if redis_stopped:
            redis_start()

    # Every request without a definite answer is sent once more, now that everything is up.
    if server.poll() is not None:
        counts["server restarts by the supervisor"] += 1
        server = serve()
    with httpx.Client() as client:
        for rid in list(requests):
            if not any(status in (201, 402) for status, _ in answers.get(rid, [])):
                counts["final retries"] += 1
                send(client, rid)
        # And a replay of a sample of the answered ones must give the stored answer, byte for byte.
        for rid in rng.sample(sorted(answers), min(300, len(answers))):
            definite = [(s, b) for s, b in answers[rid] if s in (201, 402)]
            if not definite:
                continue
            path, op, payload = requests[rid]
            again = client.post(f"{base}{path}/{op}", json=payload, headers={"Authorization": f"Bearer {token}"})
            counts["replay checks"] += 1
            if (again.status_code, again.content) != definite[0]:
                counts["replay mismatches"] += 1

    if server_stop(server):
        counts["server stops forced with SIGKILL"] += 1
    applied = dict(tuple(line.split("|")) for line in psql(
        "SELECT o.request_id, count(e.id) FROM balances_operation o LEFT JOIN balances_ledgerentry e "
        "ON e.operation_id = o.id WHERE o.request_id LIKE 'f-%' GROUP BY o.request_id").split())
    got_201 = {rid for rid, seen in answers.items() if any(status == 201 for status, _ in seen)}
    counts["applied"] = sum(1 for n in applied.values() if n == "1")
    counts["replayed (201 seen more than once)"] = sum(
        1 for rid in got_201 if sum(status == 201 for status, _ in answers[rid]) > 1)
    counts["lost"] = sum(1 for rid in got_201 if applied.get(rid) != "1")
    counts["doubled"] = sum(1 for n in applied.values() if int(n) > 1)
    counts["different 201 bodies for one request_id"] = sum(
        1 for rid in got_201 if len({body for status, body in answers[rid] if status == 201}) > 1)
    negative = int(psql("SELECT count(*) FROM balances_balance WHERE amount < 0").strip())
    verify = sh(PYTHON, "manage.py", "ledger_verify", env=env, check=False).strip()
    subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB])

    for name in ("requests", "duplicates sent", "workers killed", "server restarts by the supervisor",
                 "postgresql restarts", "redis stops", "server stops forced with SIGKILL", "retries",
                 "no answer", "final retries", "applied", "replayed (201 seen more than once)", "replay checks",
                 "replay mismatches", "different 201 bodies for one request_id", "lost", "doubled"):
        print(f"faults: {name:42s} {counts[name]}")
    for name, value in sorted(counts.items()):
        if name.startswith("status "):
            print(f"faults: {'answers ' + name:42s} {value}")
    print(f"faults: {'negative balances':42s} {negative}")
    print(f"faults: {verify}")
    ok = (counts["lost"] == 0 and counts["doubled"] == 0 and counts["replay mismatches"] == 0 and negative == 0
          and counts["different 201 bodies for one request_id"] == 0 and verify.startswith("ledger_verify: OK")
          and counts["workers killed"] > 0 and counts["postgresql restarts"] == 1)
    print(f"faults: {'nothing lost, nothing doubled' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
