"""The backup and point-in-time-restore drill (bench/restore_drill.py) as part of the suite: a
full pgBackRest backup, load through the app, a moment T captured live, more load, a restore into
a new cluster at T. It brings its own clusters (root and pg_createcluster; Debian's pgbackrest,
installed with apt when missing). Its figures are printed at the end of the run."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.fuzz import report


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("pg_createcluster")
                    or not (shutil.which("pgbackrest") or shutil.which("apt-get")),
                    reason="the restore drill needs root, pg_createcluster and pgBackRest (bench/restore-drill)")
def test_a_point_in_time_restore_brings_back_exactly_the_balances_of_that_moment():
    result, lines, figures = report.bench_run("restore_drill.py", "restore-drill")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    at_moment, at_end, restored = map(int, figures["entries at T / at the end / restored"].split(" / "))
    assert restored == at_moment < at_end  # the restore stopped at T, not at the end
    captured, changed_after, differing = map(int, figures["balances captured / changed after T / differing"]
                                             .split(" / "))
    assert captured > 0 and changed_after > 0 and differing == 0
    assert figures["bare 5xx"] == "0"
    assert any(line.startswith("restore-drill: ledger_verify --full: OK") for line in lines)
