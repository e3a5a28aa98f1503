"""Counts what the fuzz suites tried, and the fault run's figures, printed at the end of the run
(tests/conftest.py)."""

from collections import Counter, defaultdict

RUNS: dict[str, Counter] = defaultdict(Counter)


def count(suite: str, outcome) -> None:
    RUNS[suite][str(outcome)] += 1


LINES: list[str] = []  # printed as they are, after the counts
