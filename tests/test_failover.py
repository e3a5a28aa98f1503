"""The failover run (bench/failover.py) as part of the suite: two Patroni-managed PostgreSQL nodes
in synchronous mode under a retrying caller, the primary's postmaster SIGKILLed, then a planned
switchover. It builds its own etcd and nodes on spare ports (root; Debian's patroni and
etcd-server, installed with apt when missing), so nothing else on the machine is touched. Its
figures are printed at the end of the run."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.fuzz import report


@pytest.mark.skipif(os.geteuid() != 0 or not (shutil.which("patroni") or shutil.which("apt-get")),
                    reason="the failover run needs root, and Patroni or apt to install it (bench/failover)")
def test_a_crash_and_a_switchover_under_load_lose_nothing_double_nothing_and_come_back_in_time():
    result, lines, figures = report.bench_run("failover.py", "failover")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert int(figures["requests"]) > 1000 and int(figures["acknowledged (201)"]) > 1000
    assert figures["lost"] == "0" and figures["doubled"] == "0" and figures["negative balances"] == "0"
    assert figures["bare 5xx"] == "0" and "answers status 500" not in figures
    assert figures["replay mismatches"] == "0" and int(figures["replay checks"]) > 0
    first, after_crash, final = figures["primary: first / after the crash / final"].split(" / ")
    assert after_crash != first and final == first  # a real failover, and a real switchover back
    assert float(figures["crash: first 201 after (s)"]) <= 30
    assert float(figures["switchover: longest time without a 201 (s)"]) <= 10
    on_primary, on_standby = figures["entries on the primary / on the standby"].split(" / ")
    assert on_primary == on_standby
    assert any(line.startswith("failover: ledger_verify: OK") for line in lines)
