"""Soak run: the production server at a steady load for about ten minutes, in slices.

Serves the app with bin/serve (granian, 2 worker processes) on PostgreSQL with Redis, as
production runs it, including the per-customer rate limit at its default. wrk sends Quadcode-style
debits and credits over 10,000 balances at a steady pace (each connection waits a few
milliseconds between calls, so the machine is loaded but not saturated) in slices of
`--slice` seconds. After each slice it records throughput, latency and the resident memory
of every worker process. At the end it prints the slices and compares the last third of the
run with the first third (after a warm-up slice): memory per worker, p50, p99 and ops/s must be
flat, every answer a 2xx, and `ledger_verify` clean. Every worker's resident memory must also
stay at or under 120 MB throughout (idle before the load, after each slice): it prints each
worker's at start, at the end, its highest and its trend, and that against the target.

Usage: bench/soak [--minutes 10] [--slice 30] [--connections 8] [--delay-ms 8] [--db NAME] [--port N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from statistics import fmean as mean

from common import PYTHON, mint_token, prepare, serve, server_env, sh, stop, workers_of, wrk

DB = "b2b_soak"
PORT = 8766
# What "flat" means here: between the first and the last third of the run (after warm-up).
MAX_RSS_GROWTH_MB = 16
MAX_RSS_GROWTH_RATIO = 1.10
MAX_LATENCY_RATIO = 1.5
MIN_THROUGHPUT_RATIO = 0.85
MAX_RSS_MB = 120  # every worker, at every sample


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def private_mb(pid: int) -> float | None:
    """What the process alone holds (its private pages; RSS also counts the libraries and the
    pages it shares with the other worker and granian's main process)."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return None
    return sum(int(line.split()[1]) for line in lines if line.startswith("Private_")) / 1024


def slope_per_hour(values: list[float], seconds_apart: float) -> float:
    """Least-squares growth of a series sampled every `seconds_apart`, per hour."""
    xs = [i * seconds_apart / 3600 for i in range(len(values))]
    mx, my = mean(xs), mean(values)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, values, strict=True)) / spread if spread else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--slice", type=int, default=30, help="seconds per measured slice")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--delay-ms", type=int, default=8, help="pause of each connection between calls")
    parser.add_argument("--db", default=DB, help=f"the scratch database (dropped and made again; default {DB})")
    parser.add_argument("--port", type=int, default=PORT)
    args = parser.parse_args()
    slices = max(4, round(args.minutes * 60 / args.slice))

    work = Path(tempfile.mkdtemp(prefix="b2b-soak-"))
    db, port = args.db, args.port
    env = server_env(db, work, port)  # the per-customer limit at its production default
    print(f"soak: preparing {db}", flush=True)
    token = prepare(db, work, env)
    server = serve(env, work / "server.log")
    rows = []
    try:
        workers = workers_of(server.pid)
        idle_rss = [rss_mb(pid) for pid in workers]  # before any load
        print(f"soak: bin/serve pid {server.pid}, worker processes {workers}; {slices} slices of {args.slice} s, "
              f"wrk -c{args.connections}, {args.delay_ms} ms between calls per connection; worker RSS MB idle "
              f"{' '.join(f'{m:.1f}' for m in idle_rss if m)}", flush=True)
        token_born = time.time()
        for n in range(slices):
            if time.time() - token_born > 480:  # tokens live 600 s; a signing client renews them
                token, token_born = mint_token(work, env), time.time()
            load_env = {**env, "BENCH_SCENARIO": "spread", "BENCH_TOKEN": token, "BENCH_RUN": f"soak{int(time.time())}",
                        "BENCH_DELAY_MS": str(args.delay_ms)}
            r = wrk(f"http://127.0.0.1:{port}", args.slice, args.connections, load_env)
            now_workers = workers_of(server.pid)
            r["rss"] = [rss_mb(pid) for pid in now_workers]
            r["private"] = [private_mb(pid) for pid in now_workers]
            r["respawned"] = now_workers != workers
            rows.append(r)
            print(f"soak: {(n + 1) * args.slice / 60:5.1f} min  {r['rps']:6.0f} ops/s  p50 {r['p50']:6.2f} ms  "
                  f"p99 {r['p99']:6.2f} ms  non-2xx {r['non_2xx']}  "
                  f"worker RSS MB {' '.join(f'{m:.1f}' for m in r['rss'] if m)}"
                  f"{'  (workers changed)' if r['respawned'] else ''}", flush=True)
    finally:
        stop(server)

    verify = sh(PYTHON, "manage.py", "ledger_verify", env=env, check=False).strip()
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", db, check=False)

    measured = rows[1:]  # the first slice warms caches, connections and the JIT-less interpreter
    third = max(1, len(measured) // 3)
    first, last = measured[:third], measured[-third:]
    print()
    print(f"soak: {len(rows)} slices, {sum(r['requests'] for r in rows)} requests, "
          f"first third vs last third (slices 2-{1 + third} vs {len(rows) - third + 1}-{len(rows)})")
    checks = []
    flat = []
    for w in range(len(workers)):
        start = mean([r["rss"][w] for r in first])
        end = mean([r["rss"][w] for r in last])
        ok = end - start <= MAX_RSS_GROWTH_MB and end / start <= MAX_RSS_GROWTH_RATIO
        checks.append(ok)
        flat.append(ok)
        trend = slope_per_hour([r["rss"][w] for r in measured], args.slice)
        print(f"  worker {w + 1} RSS         {start:8.1f} MB -> {end:8.1f} MB  ({end - start:+.1f} MB, "
              f"x{end / start:.3f}; trend {trend:+.1f} MB/hour)   target <= +{MAX_RSS_GROWTH_MB} MB and "
              f"x{MAX_RSS_GROWTH_RATIO}")
    samples = [[idle_rss[w], *(r["rss"][w] for r in rows)] for w in range(len(workers))]
    for w, series in enumerate(samples):
        known = [m for m in series if m is not None]
        print(f"  worker {w + 1} RSS         idle {series[0] or 0:.1f} MB, after slice 1 {series[1] or 0:.1f} MB, "
              f"at the end {series[-1] or 0:.1f} MB (private {rows[-1]['private'][w] or 0:.1f} MB), "
              f"max {max(known):.1f} MB   target <= {MAX_RSS_MB} MB")
    highest = max(m for series in samples for m in series if m is not None)
    slopes = [slope_per_hour([r["rss"][w] for r in measured], args.slice) for w in range(len(workers))]
    steepest = max(slopes, key=abs)
    checks.append(highest <= MAX_RSS_MB)
    for key, label, better_low in (("p50", "p50 latency", True), ("p99", "p99 latency", True),
                                   ("rps", "throughput", False)):
        start, end = mean([r[key] for r in first]), mean([r[key] for r in last])
        ratio = end / start
        ok = ratio <= MAX_LATENCY_RATIO if better_low else ratio >= MIN_THROUGHPUT_RATIO
        checks.append(ok)
        unit = "ms" if better_low else "ops/s"
        target = f"x <= {MAX_LATENCY_RATIO}" if better_low else f"x >= {MIN_THROUGHPUT_RATIO}"
        print(f"  {label:18s} {start:8.2f} {unit} -> {end:8.2f} {unit}  (x{ratio:.3f})   target {target}")
    non_2xx = sum(r["non_2xx"] for r in rows)
    respawned = any(r["respawned"] for r in rows)
    checks += [non_2xx == 0, not respawned, "OK" in verify]
    print(f"  non-2xx answers    {non_2xx}   (every call 2xx: the default per-customer limit never refused)")
    print(f"  worker respawns    {'yes' if respawned else 'none'}")
    print(f"  {verify}")
    print(f"\nsoak: worker RSS max {highest:.1f} MB (target <= {MAX_RSS_MB}), slope {steepest:+.1f} MB/h "
          f"({'flat' if all(flat) else 'growing'}; the steepest of {len(workers)} workers over "
          f"{len(measured) * args.slice / 60:.0f} min)")
    print(f"soak: {'flat: all targets met' if all(checks) else 'TARGETS MISSED'}")
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
