"""What the operations tests share: a database of their own set up as production sets it up (two
roles by bin/db-roles, migrated as the owner, funded balances c1/b1_USD …), the production server
(bin/serve) on it, and a retrying caller that drives debits and credits as Quadcode does (the
same request_id on every retry)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402  (bench/common.py: populate, serve, stop, mint_token)
import pgbouncer  # noqa: E402,F401  (bench/pgbouncer.py, for the tests that import it from here)

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def superuser() -> dict:
    """Where the test server is, and the superuser the suite connects as."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {"host": str(db["HOST"] or "127.0.0.1"), "port": str(db["PORT"] or 5432), "user": db["USER"] or "postgres"}


def psql_env() -> dict:
    su = superuser()
    return {**os.environ, "PGHOST": su["host"], "PGPORT": su["port"], "PGUSER": su["user"]}


def psql(db: str, sql: str) -> str:
    return subprocess.run(["psql", "-X", "-tA", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql], env=psql_env(),
                          check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class OpsDatabase:
    """A fresh database with an owner and a serving role, migrated as the owner."""

    name: str
    owner: str
    server: str
    work: Path
    balances: int
    token: str = ""

    def url(self, role: str, port: str | int | None = None) -> str:
        su = superuser()
        return f"postgres://{role}@{su['host']}:{port or su['port']}/{self.name}"

    def env(self, *, port: int = 0, database_url: str | None = None, **overrides: str) -> dict:
        """bin/serve's environment, serving as the server role (common.server_env otherwise)."""
        env = common.server_env(self.name, self.work, port or free_port(), **overrides)
        env.update({"DATABASE_URL": database_url or self.url(self.server),
                    "DATABASE_MIGRATE_URL": self.url(self.owner), "REQUEST_LOG_LEVEL": "WARNING"})
        env.update(overrides)
        return env

    def manage(self, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env or self.env(), capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode:
            raise AssertionError(f"manage.py {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def db_roles(self) -> str:
        result = subprocess.run([str(ROOT / "bin" / "db-roles"), self.name, "--owner", self.owner,
                                 "--server", self.server], cwd=ROOT, env=psql_env(), capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def create(self) -> OpsDatabase:
        self.drop()
        subprocess.run(["createdb", self.name], env=psql_env(), check=True, capture_output=True)
        self.manage("sandbox_keys", str(self.work), env={**self.env(), "QUADCODE_PUBLIC_KEY_FILES": ""})
        self.db_roles()  # before the first migrate: the owner owns the database and its schema
        self.manage("migrate", "-v0")  # as DATABASE_MIGRATE_URL, the owner
        self.db_roles()  # after it: the new tables' grants narrowed
        os.environ.setdefault("PGPORT", superuser()["port"])
        common.populate(self.name, self.balances)
        self.token = common.mint_token(self.work, self.env())
        return self

    def drop(self) -> None:
        subprocess.run(["dropdb", "--if-exists", "--force", self.name], env=psql_env(), capture_output=True)
        for role in (self.server, self.owner):
            subprocess.run(["psql", "-X", "-d", "postgres", "-c", f'DROP ROLE IF EXISTS "{role}"'], env=psql_env(),
                           capture_output=True)

    def amounts(self) -> dict[str, Decimal]:
        rows = psql(self.name, "SELECT balance_id, amount FROM balances_balance").splitlines()
        return {balance_id: Decimal(amount) for balance_id, amount in (row.split("|") for row in rows)}


@dataclass
class Drive:
    """What a retrying caller sent and saw."""

    sent: dict[str, tuple[int, str, Decimal]] = field(default_factory=dict)  # request_id -> (balance, op, amount)
    answers: Counter = field(default_factory=Counter)  # final status -> count
    seen: Counter = field(default_factory=Counter)  # every answer or failure seen, retried or not
    retries: int = 0
    failed: list[str] = field(default_factory=list)  # request_ids with no 201 after every retry
    latencies: list[float] = field(default_factory=list)

    def expected(self, opening: Decimal, balances: int) -> dict[str, Decimal]:
        amounts = {f"b{g}_USD": opening for g in range(1, balances + 1)}
        for b, op, amount in self.sent.values():
            amounts[f"b{b}_USD"] += amount if op == "credit" else -amount
        return amounts


def drive(base: str, token: str, *, balances: int, threads: int = 6, per_thread: int | None = None,
          until: threading.Event | None = None, timeout: float = 5.0, attempts: int = 20,
          client=httpx.Client, headers: dict | None = None) -> Drive:
    """Debits and credits of whole cents from `threads` callers, each retried with the same
    request_id until it gets a definite answer (201, or 402 — never expected here: balances are
    funded far beyond the load). Runs `per_thread` calls each, or until `until` is set. `client`
    makes each caller's httpx client (TLS settings, a source address)."""
    result = Drive()
    lock = threading.Lock()

    def one(client, rid, b, op, amount):
        payload = {"request_id": rid, "amount": f"{amount:.2f}", "currency_code": "USD", "comment": "ops"}
        for attempt in range(attempts):
            if attempt:
                with lock:
                    result.retries += 1
                time.sleep(min(0.05 * attempt, 0.5))
            started = time.monotonic()
            try:
                response = client.post(f"{base}/v1/customers/c{b}/balances/b{b}_USD/{op}", json=payload,
                                       timeout=timeout,
                                       headers={**(headers or {}), "Authorization": f"Bearer {token}"})
            except httpx.HTTPError as exc:
                with lock:
                    result.seen[type(exc).__name__] += 1
                continue
            with lock:
                result.seen[response.status_code] += 1
            if response.status_code in (201, 402):
                with lock:
                    result.answers[response.status_code] += 1
                    result.latencies.append(time.monotonic() - started)
                return
        with lock:
            result.failed.append(rid)

    def caller(seed):
        n = 0
        with client() as http:
            while (per_thread is None or n < per_thread) and not (until is not None and until.is_set()):
                n += 1
                b = 1 + (seed * 7919 + n) % balances
                op = "credit" if (seed + n) % 2 else "debit"
                amount = Decimal(1 + (seed * 31 + n * 17) % 900) / 100
                rid = f"ops-{uuid.uuid4().hex}"
                with lock:
                    result.sent[rid] = (b, op, amount)
                one(http, rid, b, op, amount)

    workers = [threading.Thread(target=caller, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return result


def applied(db: OpsDatabase, prefix: str = "ops-") -> Counter:
    """request_id -> how many operations carry it (the UNIQUE key makes 2 impossible; counted anyway)."""
    rows = psql(db.name, f"SELECT o.request_id, count(e.id) FROM balances_operation o "
                         f"LEFT JOIN balances_ledgerentry e ON e.operation_id = o.id "
                         f"WHERE o.request_id LIKE '{prefix}%' GROUP BY 1").splitlines()
    return Counter({rid: int(n) for rid, n in (row.split("|") for row in rows)})
