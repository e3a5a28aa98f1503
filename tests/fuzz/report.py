"""Counts what the fuzz suites tried, printed at the end of the run (tests/conftest.py)."""

from collections import Counter, defaultdict

RUNS: dict[str, Counter] = defaultdict(Counter)


def count(suite: str, outcome) -> None:
    RUNS[suite][str(outcome)] += 1
