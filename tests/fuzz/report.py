"""Counts what the fuzz suites tried, and the fault run's figures, printed at the end of the run
(tests/conftest.py)."""

from collections import Counter, defaultdict

RUNS: dict[str, Counter] = defaultdict(Counter)


def count(suite: str, outcome) -> None:
    RUNS[suite][str(outcome)] += 1


LINES: list[str] = []  # printed as they are, after the counts


def bench_run(script: str, prefix: str, *args: str, timeout: int = 600):
    """Run bench/`script` (a run that prints `PREFIX: name  value` lines), keep its lines for the
    end of the run, and return (the finished process, its lines, {name: value})."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    result = subprocess.run([sys.executable, f"bench/{script}", *args], cwd=Path(__file__).resolve().parents[2],
                            capture_output=True, text=True, timeout=timeout)
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{prefix}: ")]
    LINES.extend(lines)
    pattern = re.compile(rf"{re.escape(prefix)}: (.+?)\s{{2,}}(\S.*)$")
    figures = {m.group(1).strip(): m.group(2) for m in map(pattern.match, lines) if m}
    return result, lines, figures
