"""Failover and switchover under load: nothing acknowledged is lost, nothing applied twice.

Builds a cluster of its own and removes it afterwards: a single-node etcd and two PostgreSQL
nodes managed by Patroni (Debian's packages; installed with apt when missing), in synchronous
mode, on spare ports and in a temporary directory, so the machine's own servers are never
touched. The app (bin/serve) serves on the multi-host DATABASE_URL

    postgres://postgres@127.0.0.1:5451,127.0.0.1:5452/b2b_ha_failover?target_session_attrs=read-write

while a retrying caller (bench/caller.py: the same request_id until a definite answer) drives
debits and credits over a few balances from a few threads. Mid-run it SIGKILLs the primary's
postmaster; Patroni fails over to the synchronous standby and brings the old primary back as a
standby (pg_rewind). Later a planned `patronictl switchover` moves the primary back. Then, on the
final primary: every request_id answered 201 is applied exactly once, none twice, no balance is
negative, ledger_verify passes, and no request was ever answered with a bare 500 (a JSON 503
during the outage is the contract's "retry shortly"). It prints the figures, among them the
seconds from the kill to the first 201 of a request sent after it, and for each event the longest
time in which no call got a 201 (the outage as Quadcode would see it).

Usage: bench/failover [--warmup 8] [--between 6] [--threads 4] [--asynchronous]   (root: Patroni runs
as postgres; --asynchronous turns synchronous replication off, to show what that loses)
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from caller import Caller
from common import PYTHON, ensure_packages, port_free, prepare, psql_at, serve, server_env, sh, stop

DB = "b2b_ha_failover"
SCOPE = "b2b-ha-failover"
BALANCES = 20
ETCD_CLIENT, ETCD_PEER = 23791, 23801
NODES = {"pg1": (5451, 8451), "pg2": (5452, 8452)}  # name: (PostgreSQL port, Patroni REST port)
APP_PORT = 8769
PG_BIN = "/usr/lib/postgresql/15/bin"
CRASH_TARGET, SWITCHOVER_TARGET = 30.0, 10.0  # seconds until service is back


def say(line: str) -> None:
    print(f"failover: {line}", flush=True)


class Cluster:
    """etcd and two Patroni nodes in `work`; every process started here is stopped by `teardown`."""

    def __init__(self, work: Path, synchronous: bool = True):
        self.work, self.synchronous = work, synchronous
        self.processes: dict[str, subprocess.Popen] = {}
        postgres = pwd.getpwnam("postgres")
        self.uid, self.gid = postgres.pw_uid, postgres.pw_gid
        os.chown(work, self.uid, self.gid)

    def start_etcd(self) -> None:
        log = open(self.work / "etcd.log", "w")
        peer = f"http://127.0.0.1:{ETCD_PEER}"
        self.processes["etcd"] = subprocess.Popen(
            ["etcd", "--name", "etcd1", "--data-dir", str(self.work / "etcd"),
             "--listen-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
             "--advertise-client-urls", f"http://127.0.0.1:{ETCD_CLIENT}",
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"etcd1={peer}", "--initial-cluster-state", "new"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: http_json(f"http://127.0.0.1:{ETCD_CLIENT}/health").get("health") == "true", 20, "etcd")

    def config(self, name: str) -> Path:
        pg_port, rest_port = NODES[name]
        config = {
            "scope": SCOPE, "name": name, "namespace": "/b2b/",
            "restapi": {"listen": f"127.0.0.1:{rest_port}", "connect_address": f"127.0.0.1:{rest_port}"},
            "etcd3": {"hosts": [f"127.0.0.1:{ETCD_CLIENT}"]},
            "bootstrap": {
                "dcs": {
                    # A crashed primary is failed over at once (primary_start_timeout 0), not
                    # restarted in place; the leader key lives 10 s, Patroni looks every second.
                    "ttl": 10, "loop_wait": 1, "retry_timeout": 4, "primary_start_timeout": 0,
                    "maximum_lag_on_failover": 1048576,
                    # Only the synchronous standby may be promoted, and a commit is acknowledged only
                    # once it is on the standby too. Not strict: with the standby gone the primary goes
                    # on alone (see docs/operations.md for three nodes and strict mode).
                    "synchronous_mode": self.synchronous, "synchronous_mode_strict": False,
                    "postgresql": {"use_pg_rewind": True, "use_slots": True, "parameters": {
                        "wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
                        "max_wal_senders": 8, "max_replication_slots": 8, "wal_keep_size": "128MB",
                        "max_connections": 60, "shared_buffers": "64MB"}},
                },
                "initdb": [{"encoding": "UTF8"}, {"locale": "C.UTF-8"}],
            },
            "postgresql": {
                "listen": f"127.0.0.1:{pg_port}", "connect_address": f"127.0.0.1:{pg_port}",
                "data_dir": str(self.work / name), "bin_dir": PG_BIN, "pgpass": str(self.work / f"pgpass-{name}"),
                "authentication": {"superuser": {"username": "postgres", "password": "ha"},
                                   "replication": {"username": "replicator", "password": "ha"},
                                   "rewind": {"username": "postgres", "password": "ha"}},
                "parameters": {"unix_socket_directories": str(self.work)},
                "pg_hba": ["local all all trust", "host all all 127.0.0.1/32 trust",
                           "host replication replicator 127.0.0.1/32 trust"],
                "remove_data_directory_on_rewind_failure": True,
                "remove_data_directory_on_diverged_timelines": True,
            },
        }
        path = self.work / f"{name}.yml"
        path.write_text(json.dumps(config, indent=1))  # JSON is YAML
        return path

    def start_node(self, name: str) -> None:
        log = open(self.work / f"{name}.log", "a")
        # PostgreSQL refuses to run as root: Patroni and the servers it starts run as postgres.
        self.processes[name] = subprocess.Popen(
            ["patroni", str(self.config(name))], user=self.uid, group=self.gid, cwd=self.work,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.work)},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def members(self) -> dict[str, dict]:
        for _, rest_port in NODES.values():
            found = http_json(f"http://127.0.0.1:{rest_port}/cluster")
            if found.get("members"):
                return {m["name"]: m for m in found["members"]}
        return {}

    def leader(self) -> str | None:
        return next((name for name, m in self.members().items() if m["role"] == "leader"
                     and m["state"] == "running"), None)

    def sync_standby(self) -> str | None:
        """The synchronous standby, when it is streaming."""
        roles = ("sync_standby",) if self.synchronous else ("sync_standby", "replica")
        return next((name for name, m in self.members().items() if m["role"] in roles
                     and m["state"] in ("running", "streaming")), None)

    def postmaster_pid(self, name: str) -> int:
        return int((self.work / name / "postmaster.pid").read_text().split()[0])

    def switchover(self, leader: str, candidate: str) -> str:
        result = subprocess.run(["patronictl", "-c", str(self.work / f"{leader}.yml"), "switchover",
                                 "--leader", leader, "--candidate", candidate, "--force", SCOPE],
                                capture_output=True, text=True, timeout=60)
        if result.returncode:
            raise SystemExit(f"patronictl switchover failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def teardown(self) -> None:
        for name in NODES:  # Patroni stops its PostgreSQL on SIGTERM
            if name in self.processes and self.processes[name].poll() is None:
                self.processes[name].terminate()
        for name in NODES:
            process = self.processes.get(name)
            try:
                process and process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        for name in NODES:  # a postmaster left behind by a killed Patroni
            try:
                os.kill(self.postmaster_pid(name), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        etcd = self.processes.get("etcd")
        if etcd and etcd.poll() is None:
            etcd.terminate()
            etcd.wait(timeout=10)
        shutil.rmtree(self.work, ignore_errors=True)


def http_json(url: str) -> dict:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


def wait_for(predicate, timeout: float, what: str, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise SystemExit(f"failover: gave up waiting for {what} after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warmup", type=float, default=8, help="seconds of load before the kill")
    parser.add_argument("--between", type=float, default=6,
                        help="seconds of load after each recovery (before the switchover, before the end)")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--asynchronous", action="store_true",
                        help="asynchronous replication instead, to see what it loses (the run then may fail)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        say("needs root (Patroni and PostgreSQL run as the postgres user)")
        return 2
    ensure_packages({"patroni": "patroni", "patronictl": "patroni", "etcd": "etcd-server",
                     f"{PG_BIN}/postgres": "postgresql-15"})
    taken = [p for p in (ETCD_CLIENT, ETCD_PEER, APP_PORT, *[q for pair in NODES.values() for q in pair])
             if not port_free(p)]
    if taken:
        say(f"ports taken: {taken} (a run left over?)")
        return 2
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="b2b-failover-")), synchronous=not args.asynchronous)
    try:
        return run(cluster, args)
    finally:
        cluster.teardown()


def run(cluster: Cluster, args) -> int:
    started = time.monotonic()
    cluster.start_etcd()
    for name in NODES:
        cluster.start_node(name)
    first = wait_for(cluster.leader, 60, "a leader")
    wait_for(cluster.sync_standby, 60, "a synchronous standby")
    say(f"cluster up in {time.monotonic() - started:.1f} s: leader {first}, sync standby {cluster.sync_standby()}")

    hosts = ",".join(f"127.0.0.1:{pg}" for pg, _ in NODES.values())
    url = f"postgres://postgres@{hosts}/{DB}?target_session_attrs=read-write&connect_timeout=2"
    work = cluster.work
    # No shared Redis here and the per-customer limit is not under test: both off.
    env = server_env(DB, work, APP_PORT, DATABASE_URL=url, GRANIAN_WORKERS="2", REQUEST_LOG_LEVEL="WARNING",
                     REDIS_URL="", B2B_API_RATE_PER_CUSTOMER="")
    os.environ["PGPORT"] = str(NODES[first][0])  # prepare()'s createdb, psql
    token = prepare(DB, work, env, balances=BALANCES)
    server = serve(env, work / "server.log")
    try:
        caller = Caller(f"http://127.0.0.1:{APP_PORT}", token, BALANCES, timeout=5, attempts=400, duplicates=0.1,
                        prefix="ha-", log=say)
        figures: dict[str, object] = {}
        rng = random.Random(11)
        try:
            caller.start(args.threads)
            time.sleep(args.warmup)

            # 1. The primary crashes.
            victim = cluster.leader()
            killed_at = time.monotonic()
            os.kill(cluster.postmaster_pid(victim), signal.SIGKILL)
            promoted = wait_for(lambda: (leader := cluster.leader()) and leader != victim and leader, 60,
                                "the standby's promotion", 0.1)
            figures["crash: new primary after (s)"] = round(time.monotonic() - killed_at, 1)
            wait_for(lambda: caller.first_201_sent_after(killed_at), 60, "a 201 after the kill", 0.1)
            figures["crash: first 201 after (s)"] = round(caller.first_201_sent_after(killed_at), 1)
            figures["crash: longest time without a 201 (s)"] = round(caller.longest_gap(killed_at, time.monotonic()), 1)
            say(f"killed the postmaster of {victim}; {promoted} promoted")
            # The old primary comes back as the synchronous standby (Patroni rewinds it).
            wait_for(lambda: cluster.sync_standby() == victim, 90, f"{victim} back as synchronous standby")
            figures["crash: old primary back as sync standby after (s)"] = round(time.monotonic() - killed_at, 1)
            log = (cluster.work / f"{victim}.log").read_text()
            figures["crash: old primary rejoined by"] = ("pg_rewind" if "running pg_rewind" in log else
                                                         "a new base backup" if "reinitializ" in log else "a restart")
            time.sleep(args.between)

            # 2. A planned switchover back.
            switched_at = time.monotonic()
            cluster.switchover(promoted, victim)  # returns once Patroni has done it
            figures["switchover: patronictl returned after (s)"] = round(time.monotonic() - switched_at, 1)
            wait_for(lambda: cluster.leader() == victim, 60, "the switchover", 0.1)
            wait_for(lambda: caller.first_201_sent_after(time.monotonic() - 0.5), 60, "201s after the switchover", 0.1)
            time.sleep(1)
            figures["switchover: longest time without a 201 (s)"] = round(
                caller.longest_gap(switched_at, time.monotonic()), 1)
            say(f"switched over from {promoted} to {victim}")
            time.sleep(args.between)
        finally:
            caller.join()
        caller.retry_unanswered(attempts=20)
        caller.replay_sample(rng, 200)
    finally:
        stop(server)

    final = cluster.leader()
    standby = wait_for(cluster.sync_standby, 30, "the standby to catch up")
    port = NODES[final][0]
    applied = {rid: int(n) for rid, n in (line.split("|") for line in psql_at(port, DB, (
        "SELECT o.request_id, count(e.id) FROM balances_operation o LEFT JOIN balances_ledgerentry e "
        "ON e.operation_id = o.id WHERE o.request_id LIKE 'ha-%' GROUP BY o.request_id")).split())}
    caller.check(applied)
    counts = caller.counts
    negative = int(psql_at(port, DB, "SELECT count(*) FROM balances_balance WHERE amount < 0").strip())
    entries_sql = "SELECT count(*) FROM balances_ledgerentry"
    def entries():
        return {name: psql_at(NODES[name][0], DB, entries_sql).strip() for name in (final, standby)}

    try:  # a synchronous standby has every commit; replaying the last ones may take a moment
        wait_for(lambda: len(set(entries().values())) == 1, 10, "the standby to replay the last commits")
    except SystemExit as exc:
        say(str(exc))
    on_nodes = entries()
    verify = sh(PYTHON, "manage.py", "ledger_verify", env=env, check=False).strip()

    for line in caller.lines(("requests", "acknowledged (201)", "applied", "duplicates sent", "retries", "no answer",
                              "final retries", "replayed (201 seen more than once)", "replay checks",
                              "replay mismatches", "different 201 bodies for one request_id", "lost", "doubled",
                              "bare 5xx"), 50):
        say(line)
    say(f"{'negative balances':50s} {negative}")
    for name, value in figures.items():
        say(f"{name:50s} {value}")
    say(f"{'entries on the primary / on the standby':50s} {on_nodes[final]} / {on_nodes[standby]}")
    say(f"{'primary: first / after the crash / final':50s} {first} / {promoted} / {final}")
    say(verify)
    checks = {
        "nothing lost": counts["lost"] == 0, "nothing doubled": counts["doubled"] == 0,
        "no negative balance": negative == 0, "no 500": counts["status 500"] == 0 and counts["bare 5xx"] == 0,
        "replays give the stored answer": counts["replay mismatches"] == 0
        and counts["different 201 bodies for one request_id"] == 0,
        "ledger_verify OK": verify.startswith("ledger_verify: OK"),
        "some acknowledged": counts["acknowledged (201)"] > 0,
        "a failover and a switchover back": promoted != first and final == first,
        "the standby holds every entry": on_nodes[final] == on_nodes[standby],
        f"back within {CRASH_TARGET:.0f} s of the crash": figures["crash: first 201 after (s)"] <= CRASH_TARGET,
        f"back within {SWITCHOVER_TARGET:.0f} s of the switchover":
            figures["switchover: longest time without a 201 (s)"] <= SWITCHOVER_TARGET,
    }
    ok = all(checks.values())
    say(f"took {time.monotonic() - started:.0f} s")
    say("nothing lost, nothing doubled, back in time" if ok else
        "FAILED: " + ", ".join(f"not {name}" for name, passed in checks.items() if not passed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
