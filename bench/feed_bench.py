"""What the live feed delivers: events per second pushed to N connected clients at once.

Serves bin/serve-feed (granian's ASGI, one worker) on a fresh database, connects N WebSocket
clients (default 100) with back-office feed tokens (every event), then commits --events events
(default 10,000) in transactions of --batch (default 100) straight into the event log, as fast as
PostgreSQL takes them, and waits until every client has received every one, in sequence order
and without a gap (checked). Prints the events/s each client received, the total pushes/s, and
the commit-to-receipt latency (p50/p99 over every client's every event).

Usage: bench/feed [--clients 100] [--events 10000] [--batch 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common import PYTHON, ROOT, server_env, sh

DB = "b2b_feed_bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tokens(env: dict, count: int) -> list[str]:
    key = sh(PYTHON, "manage.py", "api_key_create", "bench-feed", "--role", "reader", env=env).split()[1]
    code = ("from integrations.feed.tokens import feed_token_mint\n"
            f"for _ in range({count}): print(feed_token_mint(kind='api', subject={key!r}).token)")
    out = sh(PYTHON, "manage.py", "shell", "--no-imports", "-c", code, env=env).split()
    return [word for word in out if word.count(".") == 2 and word.startswith("eyJ")]


async def client(url: str, token: str, expected: int, start_after: int, seen: list, latencies: list,
                 ready: asyncio.Event, counter: list) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, max_queue=None, open_timeout=30) as socket_:
        await socket_.send(json.dumps({"jwt": f"Bearer {token}"}))
        hello = json.loads(await socket_.recv())
        assert hello == {"success": {"message": "Authenticated."}}, hello
        counter[0] += 1
        if counter[0] == counter[1]:
            ready.set()
        last = start_after
        while last < start_after + expected:
            message = json.loads(await socket_.recv())
            event = message.get("event")
            if event is None:
                continue
            if event["sequence"] != last + 1:
                raise SystemExit(f"feed: a client got {event['sequence']} after {last}")
            last = event["sequence"]
            latencies.append(time.time() - datetime.fromisoformat(event["time"]).timestamp())
        seen.append(time.monotonic())


def produce(db: str, events: int, batch: int) -> float:
    """Commit `events` events in transactions of `batch`; returns when the last committed."""
    statements = []
    for start in range(0, events, batch):
        count = min(batch, events - start)
        statements.append(
            "INSERT INTO events_event (type, time, customer_id, balance_id, data) "
            f"SELECT 'bench.tick', clock_timestamp(), 'c' || (i % 100), '', jsonb_build_object('i', i) "
            f"FROM generate_series({start + 1}, {start + count}) AS i;")
    script = "\n".join(statements)
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1"],
                   input=script, text=True, check=True)
    return time.monotonic()


async def run(args, url: str, tokens_: list[str]) -> None:
    seen, latencies, ready = [], [], asyncio.Event()
    counter = [0, args.clients]
    start_after = int(sh("psql", "-At", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-c",
                         "SELECT coalesce(max(sequence), 0) FROM events_event").strip())
    tasks = [asyncio.create_task(client(url, token, args.events, start_after, seen, latencies, ready, counter))
             for token in tokens_]
    await asyncio.wait_for(ready.wait(), timeout=120)
    print(f"feed: {args.clients} clients authenticated", flush=True)
    started = time.monotonic()
    committed = await asyncio.to_thread(produce, DB, args.events, args.batch)
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=600)
    done = max(seen)
    latencies.sort()
    elapsed = done - started
    print(f"feed: committed {args.events:,} events in {committed - started:.2f} s "
          f"({args.events / (committed - started):,.0f}/s)")
    print(f"feed: every client got all {args.events:,}, in order, in {elapsed:.2f} s: "
          f"{args.events / elapsed:,.0f} events/s per client, {args.events * args.clients / elapsed:,.0f} pushes/s")
    print(f"feed: commit to receipt p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="b2b-feed-"))
    port = free_port()
    env = server_env(DB, work, 0, FEED_PORT=str(port), QUADCODE_PUBLIC_KEY_FILES="")
    sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB)
    sh("createdb", "-h", "127.0.0.1", "-U", "postgres", DB)
    sh(PYTHON, "manage.py", "migrate", "-v0", env=env)
    minted = tokens(env, args.clients)
    log = open(work / "feed.log", "a")
    server = subprocess.Popen([str(ROOT / "bin" / "serve-feed")], cwd=ROOT, env=env, start_new_session=True,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise SystemExit("feed: bin/serve-feed did not start")
            time.sleep(0.2)
        asyncio.run(run(args, f"ws://127.0.0.1:{port}/ws/events", minted))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        sh("dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB)
    return 0


if __name__ == "__main__":
    sys.exit(main())
