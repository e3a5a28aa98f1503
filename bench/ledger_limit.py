"""The ledger statement's own ceiling: pgbench runs our debit and credit statements (the very SQL of
balances.services.ledger, server-side prepared as the app runs them) 50/50 on a bench database,
with nothing of the app in between: no HTTP, no Python, no token.

Between pg_limit (the bare core of a debit: one UPDATE and one INSERT) and the balance API this
splits the gap in two: what the ledger's rules cost in the database (the request_id's claim, the
operation, the entry, its event, the checks) and what the rest of a call costs.

Usage (from bench.py, on a database prepared by common.prepare):
    ledger_limit.run(db, env, seconds, clients) -> {"ledger_spread_tps": N, "ledger_hot_tps": N}
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

from common import BALANCES, PYTHON, ROOT, pg_port, sh

# pgbench expressions for the statements' parameters: a random funded balance (or balance 1),
# a fresh request_id per transaction.
_PARAMS = {
    "customer_id": "'c' || :w",
    "balance_id": "'b' || :w || '_USD'",
    "request_id": "('pgbench-' || :client_id || '-' || :r)",
    "amount": "1.25",
    "currency": "'USD'",
    "force": "false",
    "comment": "'bench'",
    "created_by": "NULL",
}

_DUMP = """
import json, django
django.setup()
from balances.services import ledger
print(json.dumps({"debit": ledger._OUTGOING_SQL, "credit": ledger._INCOMING_SQL}))
"""


def statements(env: dict) -> dict[str, str]:
    """The debit and credit statements as the app's code has them today."""
    out = subprocess.run([PYTHON, "-c", _DUMP], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "b2b_server.settings"},
                         text=True, capture_output=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def script(sql: str, kind: str, *, hot: bool) -> str:
    for name, value in {**_PARAMS, "kind": f"'{kind}'"}.items():
        sql = sql.replace(f"%({name})s", value)
    if "%(" in sql:
        raise SystemExit(f"ledger_limit: a parameter has no pgbench value: {sql[sql.index('%('):][:40]}")
    pick = "\\set w 1" if hot else f"\\set w random(1, {BALANCES})"
    return f"{pick}\n\\set r random(1, 1000000000000000)\n{' '.join(sql.split())};\n"


def run(db: str, env: dict, seconds: int, clients: int) -> dict[str, int]:
    found = statements(env)
    tps = {}
    with tempfile.TemporaryDirectory(prefix="b2b-ledger-limit-") as work:
        for scenario in ("spread", "hot"):
            files = []
            for kind, sql in found.items():
                path = Path(work, f"{scenario}-{kind}.sql")
                path.write_text(script(sql, kind, hot=scenario == "hot"))
                files += ["-f", str(path)]
            out = sh("pgbench", "-h", "127.0.0.1", "-p", pg_port(), "-U", "postgres", "-n", "-M", "prepared", *files,
                     "-c", str(clients), "-j", "2", "-T", str(seconds), db)
            match = re.search(r"^tps = ([\d.]+)", out, re.M)
            tps[f"ledger_{scenario}_tps"] = int(float(match.group(1))) if match else 0
    return tps
