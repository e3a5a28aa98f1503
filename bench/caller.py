"""Quadcode's side as the fault and failover runs play it: threads sending debits and credits over
a few balances, retrying each request with the same request_id until it gets a definite answer
(201, or 402), sometimes sending an answered request again, and remembering every answer with
when it arrived. Afterwards `check` holds the answers against what the database applied."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter

import httpx

DEFINITE = (201, 402)


class Caller:
    def __init__(self, base: str, token: str, balances: int, *, timeout: float = 0.25, attempts: int = 6,
                 duplicates: float = 0.2, prefix: str = "f-", log=print):
        self.base, self.token, self.balances = base, token, balances
        self.timeout, self.attempts, self.duplicates, self.prefix = timeout, attempts, duplicates, prefix
        self.log = log
        self.counts = Counter()
        # request_id -> [(monotonic time answered, status, body), …]; request_id -> (path, op, payload)
        self.answers: dict[str, list[tuple[float, int, bytes]]] = {}
        self.requests: dict[str, tuple[str, str, dict]] = {}
        self.sent_at: dict[str, float] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def send(self, client: httpx.Client, rid: str, attempts: int | None = None) -> int | None:
        """Send `rid` until a definite answer or `attempts` tries (None: this caller's); the last status."""
        path, op, payload = self.requests[rid]
        status = None
        for attempt in range(self.attempts if attempts is None else attempts):
            if attempt:
                self.counts["retries"] += 1
                time.sleep(min(0.05 * attempt, 0.5))
            try:
                response = client.post(f"{self.base}{path}/{op}", json=payload, timeout=self.timeout,
                                       headers={"Authorization": f"Bearer {self.token}"})
            except httpx.HTTPError as exc:
                self.counts["no answer"] += 1
                if self.counts["no answer"] == 1:
                    self.log(f"first unanswered call: {type(exc).__name__}: {exc}")
                continue
            status = response.status_code
            with self.lock:
                self.answers.setdefault(rid, []).append((time.monotonic(), status, response.content))
            self.counts[f"status {status}"] += 1
            if status >= 500 and not response.headers.get("content-type", "").startswith("application/json"):
                self.counts["bare 5xx"] += 1
            if status in DEFINITE:
                return status
        return status

    def new_request(self, local: random.Random) -> str:
        b = local.randint(1, self.balances)
        op = "credit" if local.random() < 0.55 else "debit"
        rid = f"{self.prefix}{uuid.uuid4().hex}"
        payload = {"request_id": rid, "amount": f"{local.randint(1, 500)}.{local.randint(0, 99):02d}",
                   "currency_code": "USD", "comment": "load", "force": local.random() < 0.1}
        if op == "credit":
            payload.pop("force")
        with self.lock:
            self.requests[rid] = (f"/v1/customers/c{b}/balances/b{b}_USD", op, payload)
            self.sent_at[rid] = time.monotonic()
        return rid

    def run(self, seed: int) -> None:
        local = random.Random(seed)
        with httpx.Client() as client:
            while not self.stop.is_set():
                with self.lock:
                    known = list(self.requests)
                if known and local.random() < self.duplicates:  # a duplicate: the same request again
                    rid = local.choice(known)
                    self.counts["duplicates sent"] += 1
                else:
                    rid = self.new_request(local)
                self.counts["requests"] += 1
                self.send(client, rid)

    def start(self, threads: int) -> None:
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()

    def definite(self, rid: str) -> list[tuple[int, bytes]]:
        return [(status, body) for _, status, body in self.answers.get(rid, []) if status in DEFINITE]

    def retry_unanswered(self, attempts: int | None = None) -> None:
        """Every request without a definite answer once more, now that everything is up."""
        with httpx.Client() as client:
            for rid in list(self.requests):
                if not self.definite(rid):
                    self.counts["final retries"] += 1
                    self.send(client, rid, attempts)

    def replay_sample(self, rng: random.Random, size: int = 300) -> None:
        """A replay of answered requests must get the stored answer, byte for byte."""
        with httpx.Client() as client:
            for rid in rng.sample(sorted(self.answers), min(size, len(self.answers))):
                definite = self.definite(rid)
                if not definite:
                    continue
                path, op, payload = self.requests[rid]
                again = client.post(f"{self.base}{path}/{op}", json=payload,
                                    headers={"Authorization": f"Bearer {self.token}"})
                self.counts["replay checks"] += 1
                if (again.status_code, again.content) != definite[0]:
                    self.counts["replay mismatches"] += 1

    def first_201_sent_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first 201 answering a request sent after it."""
        with self.lock:
            times = [at for rid, seen in self.answers.items() if self.sent_at.get(rid, 0) > moment
                     for at, status, _ in seen if status == 201 and at > moment]
        return min(times) - moment if times else None

    def longest_gap(self, start: float, end: float) -> float:
        """The longest time without a 201 between `start` and `end` (monotonic): the outage callers saw."""
        with self.lock:
            times = sorted(at for seen in self.answers.values() for at, status, _ in seen if status == 201)
        before = [at for at in times if at <= start]
        inside = [at for at in times if start < at <= end]
        points = [before[-1] if before else start, *inside]
        gaps = [b - a for a, b in zip(points, points[1:], strict=False)]
        if not inside or inside[-1] < end:
            gaps.append(end - points[-1])
        return max(gaps)

    def check(self, applied: dict[str, int]) -> None:
        """Count into `counts` what the database (`applied`: request_id -> entries) says of the answers."""
        got_201 = {rid for rid, seen in self.answers.items() if any(status == 201 for _, status, _ in seen)}
        self.counts["acknowledged (201)"] = len(got_201)
        self.counts["applied"] = sum(1 for n in applied.values() if n == 1)
        self.counts["replayed (201 seen more than once)"] = sum(
            1 for rid in got_201 if sum(status == 201 for _, status, _ in self.answers[rid]) > 1)
        self.counts["lost"] = sum(1 for rid in got_201 if applied.get(rid) != 1)
        self.counts["doubled"] = sum(1 for n in applied.values() if n > 1)
        self.counts["different 201 bodies for one request_id"] = sum(
            1 for rid in got_201 if len({body for _, status, body in self.answers[rid] if status == 201}) > 1)

    def lines(self, names: tuple[str, ...], width: int) -> list[str]:
        """The counts named, then the answers by status, each `name  value`."""
        rows = [(name, self.counts[name]) for name in names]
        rows += [(f"answers {name}", value) for name, value in sorted(self.counts.items())
                 if name.startswith("status ")]
        return [f"{name:{width}s} {value}" for name, value in rows]
