"""The same load on an empty ledger and on one of 10^7 historical entries, and what 10^8 needs.

Makes two databases alike but for their history: 10,000 funded balances each (opened a year and a
day ago), and in the big one N historical Quadcode operations and their entries (default 10^7)
spread over the past year (so they fall in past months), bulk-loaded as bench/verify-cost loads
them. After the load, as an operator would: the events sequenced (as the sequencer would have
done, in slices with a VACUUM between), VACUUM ANALYZE, and the checkpoints made (one backfill
run). The empty one gets the same treatment. Then bin/serve is started on each in turn
(empty, loaded, empty, loaded … `--rounds` times, the server restarted every time) and the bench's
load is run: "spread" (fresh debits and credits over the 10,000 balances) and "replay" (requests
already applied), with a warm-up. Figures from one run only, back to back: the machine is shared
and noisy, the loaded/empty ratios are what counts.

It prints both figures and their ratios against the targets (spread ops/s loaded/empty >= 0.9, p99
loaded/empty <= 1.3), `ledger_verify` on both, the sizes measured (every `balances_%` and
`events_%` table, partitions summed into their parent, table and each index apart, and the
database), bytes per entry, and an estimate of what 10^8 entries need in RAM and on disk, with and
without archiving old months (its assumptions printed with it).

Making the loaded database takes a while (21 minutes at 10^7 on the 2-core development machine:
14 to load, 3 to sequence and vacuum, 3 for the checkpoints): --keep keeps it, --reuse NAME
measures on one kept earlier instead of loading again.

The bench's request_ids are ordered (a run's prefix and a counter), so a fresh one's uniqueness
check lands at the same end of the request-id index: callers whose ids arrive in no order (UUIDs)
touch that whole index, which is why the estimate counts it in full in the hot set.

Usage: bench/growth [--entries 10000000] [--seconds 20] [--connections 16] [--rounds 2] [--keep]
                    [--reuse NAME] [--port 8791] [--live-months 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import fmean as mean

from common import (
    BALANCES,
    PYTHON,
    fresh_db,
    load_history,
    mint_token,
    pg_port,
    populate,
    psql_at,
    scenario_line,
    serve,
    server_env,
    sh,
    stop,
    wrk,
)

EMPTY_DB = "b2b_growth_empty"
LOADED_DB = "b2b_growth_loaded"
TARGET_SPREAD_RATIO = 0.9
TARGET_P99_RATIO = 1.3
HISTORY_DAYS = 365
SEQUENCE_SLICE = 1_000_000
# The estimate's assumptions: 10^8 entries over three years.
ESTIMATE_ENTRIES = 100_000_000
ESTIMATE_MONTHS = 36
PAGE = 8192


def psql(db: str, sql: str) -> str:
    return psql_at(pg_port(), db, sql)


def make_db(db: str, work: Path, env: dict, entries: int) -> float:
    """A fresh database of the bench's balances and `entries` historical entries, treated as an
    operator treats a ledger after a bulk load; returns the seconds it took."""
    started = time.monotonic()
    fresh_db(db, env)
    populate(db, days_ago=HISTORY_DAYS + 1)
    if entries:
        load_history(db, entries, days=HISTORY_DAYS)
        print(f"growth: {db}: history loaded in {time.monotonic() - started:.0f} s", flush=True)
    sequence_events(db)
    psql(db, "VACUUM ANALYZE")
    began = time.monotonic()
    out = sh(PYTHON, "manage.py", "ledger_checkpoint", env=env).strip()
    print(f"growth: {db}: {out} ({time.monotonic() - began:.0f} s)", flush=True)
    psql(db, "CHECKPOINT")
    return time.monotonic() - started


def sequence_events(db: str) -> None:
    """Number the loaded events as the sequencer would have, in id order; a VACUUM after each
    slice lets the next reuse the old rows' space, as autovacuum does behind the sequencer."""
    low, high = (int(v) if v else 0 for v in psql(db, "SELECT min(id), max(id) FROM events_event").strip().split("|"))
    given = int(psql(db, "SELECT coalesce(max(sequence), 0) FROM events_event"))
    for start in range(low, high + 1, SEQUENCE_SLICE):
        stop_id = start + SEQUENCE_SLICE - 1
        psql(db, f"UPDATE events_event SET sequence = {given - low + 1} + id "
                 f"WHERE sequence IS NULL AND id BETWEEN {start} AND {stop_id}")
        psql(db, "VACUUM events_event")


# The ledger's tables by name, whatever the schema: each partition (pg_inherits) under its parent.
RELATIONS = r"""
WITH RECURSIVE rel AS (
    SELECT c.oid, c.oid AS top FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND (c.relname LIKE 'balances\_%' OR c.relname LIKE 'events\_%')
    UNION ALL
    SELECT i.inhrelid, rel.top FROM pg_inherits i JOIN rel ON i.inhparent = rel.oid
)
"""
SIZES_SQL = RELATIONS + """
SELECT t.relname, count(*) - 1, sum(pg_table_size(rel.oid)), sum(pg_indexes_size(rel.oid)),
       sum(pg_total_relation_size(rel.oid)), sum(greatest(c.reltuples, 0))::bigint
FROM rel JOIN pg_class t ON t.oid = rel.top JOIN pg_class c ON c.oid = rel.oid
GROUP BY t.relname ORDER BY t.relname
"""

# Every index of those tables and their partitions: its own name, its parent index (a partition's
# index attached to the partitioned one), its table's top-level name, its size and definition.
INDEXES_SQL = RELATIONS + """
SELECT x.indexrelid, ci.relname, coalesce(p.inhparent, 0), t.relname, pg_relation_size(x.indexrelid),
       replace(pg_get_indexdef(x.indexrelid), '|', '/')
FROM rel JOIN pg_index x ON x.indrelid = rel.oid JOIN pg_class ci ON ci.oid = x.indexrelid
JOIN pg_class t ON t.oid = rel.top LEFT JOIN pg_inherits p ON p.inhrelid = x.indexrelid
"""


def sizes(db: str) -> dict:
    """{'tables': {name: {...}}, 'indexes': {(table, index): {...}}, 'database': bytes, 'entries': n}."""
    tables = {}
    for line in psql(db, SIZES_SQL).splitlines():
        name, partitions, table, indexes, total, rows = line.split("|")
        if "checkpoint" in name:  # made after the last ANALYZE: counted
            rows = psql(db, f"SELECT count(*) FROM {name}")
        tables[name] = {"partitions": int(partitions), "table": int(table), "indexes": int(indexes),
                        "total": int(total), "rows": int(rows)}
    found = {}
    for line in psql(db, INDEXES_SQL).splitlines():
        oid, name, parent, table, size, definition = line.split("|", 5)
        found[int(oid)] = {"name": name, "parent": int(parent), "table": table, "size": int(size),
                           "definition": definition}
    indexes = {}
    for index in found.values():
        top = index
        while top["parent"] in found:  # a partition's index counts under the partitioned one
            top = found[top["parent"]]
        key = (top["table"], top["name"])
        entry = indexes.setdefault(key, {"size": 0, "definition": top["definition"]})
        entry["size"] += index["size"]
    return {"tables": tables, "indexes": indexes,
            "database": int(psql(db, "SELECT pg_database_size(current_database())")),
            "entries": int(psql(db, "SELECT count(*) FROM balances_ledgerentry"))}


# What ledger_archive leaves in the live database: the claims (for ever, on purpose) and the
# event log (not partitioned yet).
NEVER_ARCHIVED = ("balances_requestid", "balances_reversal", "events_event")


def request_id_lookup(table: str, index: str, definition: str) -> bool:
    return "request_id" in definition or "request" in table.removeprefix("balances_")


def mb(n: float) -> str:
    return f"{n / 2**20:9.1f} MB"


def gb(n: float) -> str:
    return f"{n / 2**30:7.1f} GB"


def phase(label: str, db: str, work: Path, port: int, args, run_id: str) -> dict:
    env = server_env(db, work, port, B2B_API_RATE_PER_CUSTOMER=os.environ.get("BENCH_API_RATE", "100000000/minute"))
    token = mint_token(work, env)
    server = serve(env, work / f"server-{db}.log")
    results = {}
    try:
        url = f"http://127.0.0.1:{port}"
        for scenario in ("spread", "replay"):
            scenario_env = {**env, "BENCH_SCENARIO": scenario, "BENCH_TOKEN": token, "BENCH_RUN": run_id,
                            "BENCH_BALANCES": str(BALANCES)}
            # warm-up (a fresh server's first calls, the database's caches after the other one's run)
            wrk(url, max(3, args.seconds // 4), args.connections, {**scenario_env, "BENCH_RUN": f"{run_id}w"})
            results[scenario] = r = wrk(url, args.seconds, args.connections, scenario_env, server_pid=server.pid)
            print(scenario_line(f"{label} {scenario}", r, prefix="growth"), flush=True)
    finally:
        stop(server)
    return results


def report_sizes(empty: dict, loaded: dict, loaded_db: str) -> dict:
    """Print the loaded database's sizes and bytes per entry (loaded minus empty, over the entries
    between them); returns {(table, index or ''): bytes per entry}."""
    added = loaded["entries"] - empty["entries"]
    print(f"\ngrowth: sizes of {loaded_db} ({loaded['entries']} entries) against {EMPTY_DB} "
          f"({empty['entries']}); bytes/entry = (loaded - empty) / {added} entries")
    print(f"  {'relation':52s} {'loaded':>12s} {'empty':>12s} {'bytes/entry':>11s}")
    per_entry = {}
    for name, t in loaded["tables"].items():
        e = empty["tables"].get(name, {"table": 0, "indexes": 0, "total": 0})
        parts = f" ({t['partitions']} partitions)" if t["partitions"] else ""
        if t["total"] < 1 << 20 and e["total"] < 1 << 20:
            continue  # the small tables (staff, runs, holds…) are left out of the list
        per_entry[(name, "")] = (t["table"] - e["table"]) / added
        print(f"  {name + parts + ' table':52s} {mb(t['table'])} {mb(e['table'])} {per_entry[(name, '')]:11.1f}")
        for (table, index), i in sorted(loaded["indexes"].items()):
            if table != name:
                continue
            before = empty["indexes"].get((table, index), {"size": 0})["size"]
            per_entry[(name, index)] = (i["size"] - before) / added
            mark = "  (request-id lookup)" if request_id_lookup(table, index, i["definition"]) else ""
            print(f"    index {index + mark:46s} {mb(i['size'])} {mb(before)} {per_entry[(name, index)]:11.1f}")
        print(f"  {name + ' total':52s} {mb(t['total'])} {mb(e['total'])} {(t['total'] - e['total']) / added:11.1f}")
    print(f"  {'database':52s} {mb(loaded['database'])} {mb(empty['database'])} "
          f"{(loaded['database'] - empty['database']) / added:11.1f}")
    return per_entry


def estimate(loaded: dict, per_entry: dict, live_months: int) -> None:
    per_month = ESTIMATE_ENTRIES / ESTIMATE_MONTHS
    live = per_month * live_months
    lookup = sum(v for (t, i), v in per_entry.items()
                 if i and request_id_lookup(t, i, loaded["indexes"][(t, i)]["definition"]))
    everything = sum(per_entry.values())
    # What archiving never removes: the claims of request_ids (a late retry of an archived
    # month's request must still be refused), table and index, and the event log.
    kept = sum(v for (t, _), v in per_entry.items() if t in NEVER_ARCHIVED)
    kept_lookup = sum(v for (t, i), v in per_entry.items() if i and t in NEVER_ARCHIVED
                      and request_id_lookup(t, i, loaded["indexes"][(t, i)]["definition"]))
    archived_share = live / ESTIMATE_ENTRIES

    def with_archiving(total: float, never: float) -> float:
        return (total - never) * live + never * ESTIMATE_ENTRIES

    # Indexes led by the balance (a balance's entries in order) take their inserts at each
    # balance's end: one leaf page per balance is hot, whatever the history.
    per_balance = [i for (t, i), v in loaded["indexes"].items() if per_entry.get((t, i), 0) > 1
                   and ("(balance_id" in v["definition"] or "(customer_id" in v["definition"])]
    tails = len(per_balance) * BALANCES * PAGE
    print(f"\ngrowth: estimate for 10^8 entries; assumptions: {ESTIMATE_ENTRIES:.0e} entries over "
          f"{ESTIMATE_MONTHS} months ({per_month / 1e6:.1f} M/month), every relation growing per entry as measured "
          f"above, {BALANCES} balances, archiving keeps the last {live_months} months live "
          f"({live / 1e6:.1f} M entries; {archived_share:.0%}), every request_id claim and event for ever, 8 kB pages")
    print(f"  {'relation':52s} {'10^8 live':>10s} {f'{live_months} months':>10s}")
    for (table, index), v in per_entry.items():
        if abs(v) < 0.5:
            continue  # what does not grow with the entries (balances, checkpoints: see below)
        label = f"    index {index}" if index else f"  {table} table"
        kept_rows = ESTIMATE_ENTRIES if table in NEVER_ARCHIVED else live
        print(f"  {label:52s} {gb(v * ESTIMATE_ENTRIES)} {gb(v * kept_rows)}")
    print(f"  {'all of the above':52s} {gb(everything * ESTIMATE_ENTRIES)} {gb(with_archiving(everything, kept))}")
    month = (everything - lookup) * per_month
    print("  RAM, the hot set (what every call touches, to be kept cached):")
    print(f"    the request-id lookup indexes in full ({lookup:.1f} bytes/entry: a fresh request_id is checked at "
          f"wherever its key sorts, and a replay may name any one): {gb(lookup * ESTIMATE_ENTRIES)} without "
          f"archiving, {gb(with_archiving(lookup, kept_lookup))} with it")
    print(f"    the latest month of every other table and index (appends and the reads that follow them): {gb(month)}")
    print(f"    one leaf page per balance of the {len(per_balance)} per-balance/customer indexes: {mb(tails)}")
    hot = with_archiving(lookup, kept_lookup) + month + tails
    print(f"    hot set: {gb(lookup * ESTIMATE_ENTRIES + month + tails)} without archiving, "
          f"{gb(hot)} with it; the rest (older months' rows and index pages) is read "
          f"only by statements, exports and ledger_verify --full, and can stay on disk")
    checkpoints = 0
    for name, t in loaded["tables"].items():
        if "checkpoint" in name and "run" not in name and t["rows"] > 0:
            rows = BALANCES * ESTIMATE_MONTHS * 365 / 12
            print(f"  {name} grows per balance and day, not per entry: {t['total'] / t['rows']:.0f} bytes/row "
                  f"measured; {BALANCES} balances checkpointed every day for {ESTIMATE_MONTHS} months: "
                  f"{gb(rows * t['total'] / t['rows'])}, archiving or not (they stay: ledger_verify starts from "
                  f"them)")
            checkpoints += rows * t["total"] / t["rows"]
    print(f"  disk: {gb(everything * ESTIMATE_ENTRIES + checkpoints)} of live data without archiving, "
          f"{gb(with_archiving(everything, kept) + checkpoints)} with it (checkpoints included; "
          f"the archived months leave the database: "
          f"their dumps go to cheaper "
          f"storage, not measured here); add room for WAL, VACUUM's churn and a base backup")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000_000, help="historical entries to load")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="(empty, loaded) pairs measured back to back")
    parser.add_argument("--keep", action="store_true", help=f"keep the loaded database ({LOADED_DB})")
    parser.add_argument("--reuse", metavar="NAME", help="measure on a loaded database kept by an earlier --keep")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--live-months", type=int, default=6, help="months kept live with archiving (the estimate)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="b2b-growth-"))
    loaded_db = args.reuse or LOADED_DB
    sh(PYTHON, "manage.py", "sandbox_keys", str(work), env={**server_env(EMPTY_DB, work, 0),
                                                            "QUADCODE_PUBLIC_KEY_FILES": ""})
    if args.reuse:
        if not psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{loaded_db}'").strip():
            parser.error(f"no database {loaded_db} to reuse (make one with --keep)")
        print(f"growth: reusing {loaded_db}", flush=True)
    else:
        print(f"growth: loading {loaded_db}: {BALANCES} balances and {args.entries} historical entries over "
              f"{HISTORY_DAYS} days", flush=True)
        seconds = make_db(loaded_db, work, server_env(loaded_db, work, 0), args.entries)
        print(f"growth: {loaded_db} ready in {seconds:.0f} s", flush=True)
    make_db(EMPTY_DB, work, server_env(EMPTY_DB, work, 0), 0)
    counts = {db: int(psql(db, "SELECT count(*) FROM balances_ledgerentry")) for db in (EMPTY_DB, loaded_db)}
    print(f"growth: bin/serve (granian, workers={os.environ.get('GRANIAN_WORKERS', 2)}), wrk -t2 "
          f"-c{args.connections} -d{args.seconds}s per scenario; {args.rounds} rounds of empty ({counts[EMPTY_DB]} "
          f"entries) then loaded ({counts[loaded_db]} entries), the server restarted each time; one run, "
          f"back to back", flush=True)

    runs = {"empty": [], "loaded": []}
    run_id = str(int(time.time()))
    for n in range(args.rounds):
        for label, db in (("empty", EMPTY_DB), ("loaded", loaded_db)):
            runs[label].append(phase(label, db, work, args.port, args, f"{run_id}g{n}{label[0]}"))

    verify = {}
    for db in (EMPTY_DB, loaded_db):
        began = time.monotonic()
        verify[db] = sh(PYTHON, "manage.py", "ledger_verify", env=server_env(db, work, 0), check=False).strip()
        print(f"growth: {db}: {verify[db].splitlines()[-1] if verify[db] else '?'} "
              f"({time.monotonic() - began:.1f} s)", flush=True)

    empty_sizes, loaded_sizes = sizes(EMPTY_DB), sizes(loaded_db)
    per_entry = report_sizes(empty_sizes, loaded_sizes, loaded_db)
    estimate(loaded_sizes, per_entry, args.live_months)

    print(f"\ngrowth: one run, {args.rounds} rounds back to back; {'round':>6s} {'empty':>17s} {'loaded':>17s}")
    for n in range(args.rounds):
        for scenario in ("spread", "replay"):
            e, lo = runs["empty"][n][scenario], runs["loaded"][n][scenario]
            print(f"  round {n + 1} {scenario:6s}  {e['rps']:6.0f} ops/s {e['p99']:6.2f} ms  "
                  f"{lo['rps']:6.0f} ops/s {lo['p99']:6.2f} ms   ops/s x{lo['rps'] / e['rps']:.2f}, "
                  f"p99 x{lo['p99'] / e['p99']:.2f}")
    ratios = {}
    for scenario in ("spread", "replay"):
        rps = mean([r[scenario]["rps"] for r in runs["loaded"]]) / mean([r[scenario]["rps"] for r in runs["empty"]])
        p99 = mean([r[scenario]["p99"] for r in runs["loaded"]]) / mean([r[scenario]["p99"] for r in runs["empty"]])
        ratios[scenario] = (rps, p99)
    spread_rps, spread_p99 = ratios["spread"]
    print(f"\ngrowth: at {loaded_sizes['entries']} entries against {empty_sizes['entries']} "
          f"(means over {args.rounds} rounds)")
    print(f"  spread: ops/s loaded / empty  {spread_rps:6.2f}   target >= {TARGET_SPREAD_RATIO}")
    print(f"  spread: p99 loaded / empty    {spread_p99:6.2f}   target <= {TARGET_P99_RATIO}")
    print(f"  replay: ops/s loaded / empty  {ratios['replay'][0]:6.2f}   p99 loaded / empty {ratios['replay'][1]:.2f}")
    non_2xx = sum(r[s]["non_2xx"] for label in runs for r in runs[label] for s in r)
    ok = (spread_rps >= TARGET_SPREAD_RATIO and spread_p99 <= TARGET_P99_RATIO and non_2xx == 0
          and all("OK" in v for v in verify.values()))
    verified = all("OK" in v for v in verify.values())
    print(f"  non-2xx answers {non_2xx}; ledger_verify {'OK on both' if verified else 'NOT OK'}")
    print(f"\ngrowth: {'all targets met' if ok else 'TARGETS MISSED'}")

    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", EMPTY_DB, check=False)
    if args.keep or args.reuse:
        print(f"growth: kept {loaded_db} (bench/growth --reuse {loaded_db}; dropdb {loaded_db} when done)")
    else:
        sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", loaded_db, check=False)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
