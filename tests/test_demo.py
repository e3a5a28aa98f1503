"""The README's first command, as a newcomer meets it: `bin/demo` sets up both sides, Quadcode's
servers trade over the balance API, then a person logs in, opens the trading room, opens an
option and closes it with a profit, and the ledger shows both."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.browser import SCREENSHOTS, launch, log_in, needs_chromium, trade_one_option

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_env(tmp_path) -> dict:
    env = {**os.environ, "DEMO_DIR": str(tmp_path), "PORT": str(free_port()), "SIMULATOR_PORT": str(free_port()),
           "FEED_PORT": str(free_port())}
    env.pop("DATABASE_URL", None)
    return env


def test_the_scripted_demo_trades_an_option_and_the_ledger_verifies(tmp_path):
    result = subprocess.run([str(ROOT / "bin" / "demo"), "--once"], cwd=ROOT, env=demo_env(tmp_path),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "<- 200 " in out and out.count("<- 201 ") == 3  # get, debit, replayed debit, credit
    assert "trade done: 1000.00 - 10.00 + 18.50 = 1008.50 USD" in out
    assert "ledger_verify: OK (1 balances, 3 entries checked" in out
    assert "reconcile: matched 2, missing_here 0, missing_there 0, mismatched 0" in out
    assert "key: bk_" in out and "secret: " in out
    assert "Traceback" not in out + result.stderr
    assert (tmp_path / "demo.sqlite3").exists()  # the embedded default, not the test database


@needs_chromium
def test_a_person_logs_in_and_trades_in_the_demo(tmp_path):
    from playwright.sync_api import sync_playwright

    env = demo_env(tmp_path)
    demo = subprocess.Popen([str(ROOT / "bin" / "demo")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            output.append(line)
            if "Serving until Ctrl-C." in line or (not line and demo.poll() is not None):
                break
        assert "Serving until Ctrl-C." in "".join(output), "".join(output)

        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page()
            page.set_default_timeout(15_000)
            log_in(page, f"http://127.0.0.1:{env['PORT']}", "demo", "demo-pass-2026")
            # 1008.50 after the scripted trade; then one more option, by hand
            assert trade_one_option(page) == ["1008.50", "998.50", "1017.00"]
            page.screenshot(path=SCREENSHOTS / "demo-after-trade.png")
            # The wallet page follows the demo's live feed (its own server, on SQLite too).
            page.goto(f"http://127.0.0.1:{env['PORT']}/account/")
            page.locator("#live-status[data-state=live]").wait_for()
            browser.close()

        ledger = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "manage.py", "ledger_entries", "demo_USD"],
                                cwd=ROOT, env={**env, "DATABASE_URL": f"sqlite:///{tmp_path}/demo.sqlite3"},
                                capture_output=True, text=True, timeout=60)
        lines = ledger.stdout.splitlines()
        assert [line.split()[3] for line in lines[1:-1]] == ["deposit", "debit", "credit", "debit", "credit"]
        assert lines[-1] == "balance demo_USD: 1017.00 USD"
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(timeout=30)
