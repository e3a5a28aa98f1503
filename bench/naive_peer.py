"""The naive peer (bench/naive/README.md) under the same load as ours: its own tables in the same
database, filled from the benchmark's balances, served by gunicorn with 4 sync workers."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from common import PYTHON, ROOT, scenario_line, sh, wait_ready, wrk

NAIVE = ROOT / "bench" / "naive"
WORKERS = 4

_FILL = """
TRUNCATE naive_entry, naive_balance;
INSERT INTO naive_balance (customer_id, balance_id, currency, amount)
SELECT c.customer_id, b.balance_id, b.currency, b.amount
FROM balances_balance b JOIN customers_customer c ON c.id = b.customer_id;
"""


def naive_run(db: str, work: Path, env: dict, token: str, *, port: int, seconds: int, connections: int,
              run_id: str) -> dict:
    naive_env = {**env, "DJANGO_SETTINGS_MODULE": "settings",
                 "NAIVE_PUBLIC_KEY_FILE": str(work / "quadcode-sandbox-public.pem")}
    sh(PYTHON, str(NAIVE / "manage.py"), "migrate", "-v0", env=naive_env)
    sh("psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", _FILL)
    log = open(work / "naive.log", "a")
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(WORKERS),
                               "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:application"],
                              cwd=NAIVE, env=naive_env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    results = {}
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/customers/c1/balances/b1_USD")
        url = f"http://127.0.0.1:{port}"
        for scenario in ("spread", "hot", "replay"):
            scenario_env = {**env, "BENCH_SCENARIO": scenario, "BENCH_TOKEN": token, "BENCH_RUN": f"{run_id}n",
                            "BENCH_BALANCES": os.environ.get("BENCH_BALANCES", "10000")}
            wrk(url, 3, connections, {**scenario_env, "BENCH_RUN": f"{run_id}nw"})
            results[scenario] = r = wrk(url, seconds, connections, scenario_env, server_pid=server.pid)
            print(scenario_line(f"naive {scenario}", r), flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    return results
