"""`bench/run --profile`: sample the server's workers with py-spy while a scenario runs, then
print where the time goes — the top frames by own time (a function running) and by inclusive
time (a function or anything it called), as shares of all samples.

Two samplers per worker: one takes every thread (waits on PostgreSQL, Redis and the socket
included: where a request's time goes), the other only the thread holding the GIL (`--gil`:
where the worker's Python CPU goes, the work per call)."""

from __future__ import annotations

import collections
import subprocess
from pathlib import Path

from common import ROOT, workers_of

PY_SPY = str(ROOT / ".venv" / "bin" / "py-spy")


KINDS = {"threads": [], "gil": ["--gil"]}


def start(server_pid: int, seconds: int, work: Path) -> dict[str, list[tuple[subprocess.Popen, Path]]]:
    samplers = {kind: [] for kind in KINDS}
    for pid in workers_of(server_pid):
        for kind, extra in KINDS.items():
            out = work / f"profile-{kind}-{pid}.txt"
            samplers[kind].append((subprocess.Popen(
                [PY_SPY, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200", "--format", "raw",
                 "--nonblocking", *extra, "--output", str(out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return samplers


def _frame(text: str) -> str:
    # py-spy's raw frames: "function (path/to/file.py:line)"; keep function and file, not the line.
    name, _, where = text.partition(" (")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def report(samplers: dict[str, list[tuple[subprocess.Popen, Path]]], top: int = 20) -> None:
    _report("every thread", samplers["threads"], top)
    _report("the thread holding the GIL (Python's CPU)", samplers["gil"], top)


def _report(title: str, samplers: list[tuple[subprocess.Popen, Path]], top: int) -> None:
    own, inclusive, total = collections.Counter(), collections.Counter(), 0
    for sampler, out in samplers:
        sampler.wait(timeout=120)
        if not out.exists():
            continue
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            frames = [_frame(f) for f in stack.split(";") if f and not f.startswith("process ")
                      and not f.startswith("thread ")]
            if not frames:
                continue
            n = int(count)
            total += n
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    if not total:
        print("profile: no samples (py-spy needs ptrace: run as root)")
        return
    print(f"\nprofile of {title}: {total} samples over {len(samplers)} workers")
    for kind, counter in (("own time", own), ("inclusive time", inclusive)):
        print(f"profile: top frames by {kind}")
        for frame, n in counter.most_common(top):
            print(f"  {100 * n / total:5.1f} %  {frame}")
