"""The README's first command: `bin/demo --once` sets up the sandbox, serves the API under
its production server on the embedded SQLite default, trades one option over HTTP and verifies the ledger."""

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_demo_trades_an_option_and_the_ledger_verifies(tmp_path):
    env = {**os.environ, "DEMO_DIR": str(tmp_path), "PORT": str(free_port())}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([str(ROOT / "bin" / "demo"), "--once"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "<- 200 " in out and out.count("<- 201 ") == 3  # get, debit, replayed debit, credit
    assert "trade done: 1000.00 - 10.00 + 18.50 = 1008.50 USD" in out
    assert "ledger_verify: OK (1 balances, 3 entries)" in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "demo.sqlite3").exists()  # the embedded default, not the test database
