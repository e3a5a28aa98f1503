"""The fault run (bench/faults.py) as part of the suite: the production server under a retrying
caller while workers are SIGKILLed, PostgreSQL restarts and Redis stops. It brings its own
PostgreSQL cluster and Redis (root and Debian's pg_createcluster), so the machine's servers and
the rest of the suite are not disturbed. Its figures are printed at the end of the run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz import report

ROOT = Path(__file__).resolve().parents[1]
SECONDS = os.environ.get("FAULTS_SECONDS", "30")


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("pg_createcluster") or not shutil.which("redis-server"),
                    reason="the fault run needs root, pg_createcluster and redis-server (bench/faults)")
def test_under_faults_nothing_is_lost_or_doubled_and_every_retry_gets_the_stored_answer():
    result = subprocess.run([sys.executable, "bench/faults.py", "--seconds", SECONDS], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    lines = [line for line in result.stdout.splitlines() if line.startswith("faults: ")]
    report.LINES.extend(lines)
    counts = {m.group(1).strip(): int(m.group(2)) for m in map(re.compile(r"faults: (.+?)\s+(\d+)$").match, lines) if m}
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # what the run must have gone through, and what must never happen
    assert counts["workers killed"] > 0 and counts["postgresql restarts"] == 1 and counts["redis stops"] == 1
    assert counts["requests"] > 1000 and counts["applied"] > 0 and counts["replay checks"] > 0
    assert counts["lost"] == 0 and counts["doubled"] == 0 and counts["replay mismatches"] == 0
    assert counts["negative balances"] == 0
    assert any(line.startswith("faults: ledger_verify: OK") for line in lines)
