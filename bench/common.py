"""What the benchmark and the soak run share: a database of 10,000 funded balances, keys and a
token, the production server (bin/serve) and wrk's figures."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
BALANCES = 10_000
# The bench's master key for personal data (B2B_PII_KEYS): populate() seals with it.
PII_KEY = "YmVuY2gtb25seS1wZXJzb25hbC1kYXRhLWtleS0zMiE="


def sh(*cmd, env=None, check=True) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and result.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout}")
    return result.stdout


def pg_port() -> str:
    return os.environ.get("PGPORT", "5432")  # psql, createdb and dropdb read PGPORT too


def server_env(db: str, work: Path, port: int, **overrides: str) -> dict:
    """The environment of bin/serve as production would set it (sandbox keys, Redis)."""
    return {**os.environ,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port()}/{db}",
            "B2B_ENVIRONMENT": "sandbox",
            "B2B_PII_KEYS": PII_KEY,
            "QUADCODE_PUBLIC_KEY_FILES": str(work / "quadcode-sandbox-public.pem"),
            "B2B_ALLOWED_IPS": "127.0.0.1",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "GRANIAN_PORT": str(port),
            "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
            "REDIS_URL": "redis://127.0.0.1:6379/11",
            **overrides}


def fresh_db(db: str, env: dict) -> None:
    """`db` dropped, made again and migrated (as `env`'s DATABASE_URL)."""
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", db)
    sh(PYTHON, "manage.py", "migrate", "-v0", env=env)


def prepare(db: str, work: Path, env: dict, balances: int = BALANCES) -> str:
    """A fresh database of `balances` funded balances (c1/b1_USD …), sandbox keys in `work`; returns
    a token valid for ten minutes."""
    sh(PYTHON, "manage.py", "sandbox_keys", str(work), env={**env, "QUADCODE_PUBLIC_KEY_FILES": ""})
    fresh_db(db, env)
    populate(db, balances)
    return mint_token(work, env)


def mint_token(work: Path, env: dict) -> str:
    return sh(PYTHON, "manage.py", "sandbox_token", "--private-key", str(work / "quadcode-sandbox-private.pem"),
              "--lifetime", "600", env=env).strip()


def _sealed_customers(balances: int) -> str:
    """COPY rows (key_id, master, wrapped, customer_id, personal, email_hash) of `balances`
    customers c1 … with data keys of their own, sealed as customers.services would seal them."""
    import base64
    import sys
    import uuid

    sys.path.insert(0, str(ROOT))
    from customers import pii

    master = base64.b64decode(PII_KEY)
    name = pii.master_id(master)
    rows = []
    for g in range(1, balances + 1):
        customer_id, key_id, key = f"c{g}", str(uuid.uuid4()), os.urandom(32)
        email = f"{customer_id}@example.com"
        personal = {"email": email, "first_name": "", "middle_name": "", "last_name": "", "phone_number": "",
                    "account_timezone": "", "date_of_birth": ""}
        rows.append("\t".join((key_id, name, "\\\\x" + pii.wrap(master, key_id, key).hex(), customer_id,
                               pii.seal_json(key, customer_id, "personal", personal),
                               pii.email_hash(email, master=master))))
    return "\n".join(rows) + "\n\\.\n"


def history_months(db: str, days: int) -> None:
    """The ledger's month partitions from `days` ago: loaded history never lands in the DEFAULT one
    (a ledger not partitioned yet keeps it in its one table, as before balances 0012)."""
    partitioned = sh("psql", "-XAtq", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c",
                     "SELECT relkind FROM pg_class WHERE oid = to_regclass('balances_ledgerentry')").strip()
    if partitioned != "p":
        return
    sh(sys.executable, str(ROOT / "manage.py"), "ledger_partitions", "--since-days", str(days),
       env={**os.environ, "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_port()}/{db}"})


def populate(db: str, balances: int = BALANCES, *, days_ago: int = 0) -> None:
    """`balances` customers with one USD balance each, funded by an opening deposit entry (made
    `days_ago` days ago)."""
    at = f"now() - interval '{days_ago} days'" if days_ago else "now()"
    if days_ago:
        history_months(db, days_ago + 1)
    script = f"""
    \\set ON_ERROR_STOP 1
    CREATE TEMP TABLE sealed (key_id uuid, master text, wrapped bytea, customer_id text, personal text,
        email_hash text);
    COPY sealed FROM STDIN;
{_sealed_customers(balances)}
    INSERT INTO customers_datakey (key_id, master, wrapped, created_at) SELECT key_id, master, wrapped, {at}
    FROM sealed;
    INSERT INTO customers_customer (customer_id, data_key_id, personal, email_hash, country_code, signup_ip,
        is_blocked, created_at, updated_at)
    SELECT customer_id, key_id, personal, email_hash, 'DE', '', false, {at}, {at} FROM sealed;
    INSERT INTO balances_balance (balance_id, customer_id, currency, type, amount, created_at)
    SELECT 'b' || c.customer_id_num || '_USD', c.id, 'USD', 'real', 1000000000, {at}
    FROM (SELECT id, substr(customer_id, 2)::int AS customer_id_num FROM customers_customer) c;
    WITH ops AS (
        INSERT INTO balances_operation (request_id, kind, balance_id, amount, force, created_at)
        SELECT 'open:' || balance_id, 'deposit', id, 1000000000, false, {at} FROM balances_balance
        RETURNING id, request_id, balance_id, amount, created_at
    ), claims AS (
        INSERT INTO balances_requestid (request_id, operation_id, created_at)
        SELECT request_id, id, created_at FROM ops
    )
    INSERT INTO balances_ledgerentry (operation_id, balance_id, kind, amount, realized_amount, balance_after,
        comment, created_at)
    SELECT id, balance_id, 'deposit', amount, amount, amount, 'opening amount', created_at FROM ops;
    ANALYZE;
    """
    result = subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-f", "-"],
                            cwd=ROOT, input=script, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if result.returncode:
        raise SystemExit(f"populate failed:\n{result.stdout}")


def load_history(db: str, entries: int, balances: int = BALANCES, *, days: int = 365) -> None:
    """`entries` historical Quadcode operations and their entries, spread over the balances and the
    last `days` days: each balance alternates a credit of 1.00 and a debit of 1.00, so every
    running amount is known without summing (the opening amount, plus 1.00 after a credit) and the
    ledger verifies. `entries` is rounded to a multiple of 2 x balances (every balance ends where
    it started). Loaded in slices, so memory stays flat at 10^7 and beyond."""
    # Their months' partitions first: history never lands in the DEFAULT partition.
    history_months(db, days + 1)
    per_round = 2 * balances
    rounds = max(1, entries // per_round)
    total = rounds * per_round
    slice_size = 1_000_000
    for start in range(0, total, slice_size):
        stop = min(start + slice_size, total)
        sql = f"""
        WITH ops AS (
            INSERT INTO balances_operation (request_id, kind, balance_id, amount, force, created_at)
            SELECT 'h' || g, CASE WHEN ((g / {balances}) % 2) = 0 THEN 'credit' ELSE 'debit' END,
                   (SELECT min(id) FROM balances_balance) + (g % {balances}), 1.00, false,
                   now() - interval '{days} days' + (g::float / {total}) * interval '{days} days'
            FROM generate_series({start}, {stop - 1}) g
            RETURNING id, request_id, kind, balance_id, created_at
        ), claims AS (
            INSERT INTO balances_requestid (request_id, operation_id, created_at)
            SELECT request_id, id, created_at FROM ops
        )
        INSERT INTO balances_ledgerentry (operation_id, balance_id, kind, amount, realized_amount, balance_after,
            comment, created_at)
        SELECT id, balance_id, kind, 1.00, 1.00,
               CASE WHEN kind = 'credit' THEN 1000000001 ELSE 1000000000 END, '', created_at
        FROM ops;
        """
        sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-c", sql)
    sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", "VACUUM ANALYZE")


def serve(env: dict, log_path: Path) -> subprocess.Popen:
    """bin/serve in its own process group (stop it with os.killpg), ready to answer."""
    port = int(env["GRANIAN_PORT"])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:  # else we would measure whatever answers there
            raise SystemExit(f"port {port} is taken (a server left over from an earlier run?)")
    log = open(log_path, "a")
    server = subprocess.Popen([str(ROOT / "bin" / "serve")], cwd=ROOT, env=env, start_new_session=True,
                              stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{env['GRANIAN_PORT']}/v1/customers/c1/balances/b1_USD")
    return server


def stop(server: subprocess.Popen) -> bool:
    """SIGTERM to bin/serve's process group, SIGKILL if it has not exited after 30 s (as a
    supervisor does). True when it had to be killed."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    try:
        server.wait(timeout=30)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        return True


def workers_of(pid: int) -> list[int]:
    """Every process under `pid` (bin/serve execs granian: its workers are its children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return sorted(set(found))


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # answering (401/403/404 is an answer)
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer at {url}")


def wrk(url: str, seconds: float, connections: int, env: dict, *, server_pid: int | None = None) -> dict:
    """wrk's figures; with `server_pid`, also `cpu_ms`: the CPU time the server's processes spent per
    request answered (`sys_ms` of it in the kernel), and `pg_ms`: what PostgreSQL's processes
    spent per request meanwhile. That is the work per call, and unlike ops/s it hardly moves when
    other jobs share the machine."""
    postmaster = postmaster_pid() if server_pid else None
    before = cpu_times(server_pid) if server_pid else (0.0, 0.0)
    pg_before = sum(cpu_times(postmaster)) if postmaster else 0.0
    output = sh("wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", "bench/load.lua", url,
                env=env)
    result = parse_wrk(output)
    if server_pid:
        calls = max(1, result["requests"])
        user, system = (after - start for after, start in zip(cpu_times(server_pid), before, strict=True))
        result["cpu_ms"] = (user + system) * 1000 / calls
        result["sys_ms"] = system * 1000 / calls
        if postmaster:
            result["pg_ms"] = (sum(cpu_times(postmaster)) - pg_before) * 1000 / calls
    return result


def scenario_line(label: str, r: dict, prefix: str = "bench") -> str:
    pg = f"  PostgreSQL {r['pg_ms']:.3f} ms/call" if "pg_ms" in r else ""
    return (f"{prefix}: {label:13s} {r['rps']:8.0f} ops/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
            f"CPU {r.get('cpu_ms', float('nan')):.3f} ms/call (kernel {r.get('sys_ms', float('nan')):.3f}){pg}  "
            f"non-2xx {r['non_2xx']}  socket errors {r['socket_errors']}")


def cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of `pid` and every process under it (/proc/PID/stat), those
    that have exited included: a process's cutime and cstime hold what its children spent once
    it has reaped them (a database connection closed during the run, a respawned worker)."""
    user = system = 0
    for process in (pid, *workers_of(pid)):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11]) + int(fields[13])  # utime, cutime
        system += int(fields[12]) + int(fields[14])  # stime, cstime
    ticks = os.sysconf("SC_CLK_TCK")
    return user / ticks, system / ticks


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's postmaster (its processes are its children), when this user
    can read its data directory; else None."""
    try:
        data = sh("psql", "-XAtq", "-h", "127.0.0.1", "-p", pg_port(), "-U", "postgres", "-d", "postgres", "-c",
                  "SHOW data_directory").strip()
        return int(Path(data, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, SystemExit):  # sh() exits on a failed psql
        return None


def parse_wrk(output: str) -> dict:
    def latency(label):
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "p50": latency("50"), "p99": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else "none",
    }


def ensure_packages(commands: dict[str, str]) -> None:
    """Install with apt (root only; one `apt-get update`) the Debian packages whose commands are
    missing: {command: package}."""
    import shutil

    missing = sorted({package for command, package in commands.items() if not shutil.which(command)})
    if not missing:
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SystemExit(f"missing {', '.join(missing)} (install them, or run as root to have them installed)")
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        result = subprocess.run(step, env=apt_env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if result.returncode:
            raise SystemExit(f"{' '.join(step)} failed:\n{result.stdout[-2000:]}")


def psql_at(port: int | str, db: str, sql: str) -> str:
    """One statement through psql as postgres on 127.0.0.1:`port`; its rows, unaligned."""
    return subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", db, "-tA",
                           "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True, text=True).stdout


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0
