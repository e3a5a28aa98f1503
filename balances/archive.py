"""Old months out of the live ledger: exported with a SHA-256 manifest, verifiable later, then
detached and dropped (PostgreSQL; `manage.py ledger_archive`, `manage.py ledger_archive_verify`).

A month can go when it is older than B2B_LEDGER_KEEP_MONTHS, it is the oldest partition left,
and the checkpoint run of its last day covers every one of its entries: the checkpoints (which
stay) then carry what `ledger_verify` needs to start after it. The export is one directory:

    operations.csv        the operations partition, by id (COPY … CSV HEADER, times in UTC)
    entries.csv           the entries partition with each one's request_id, by balance and id
    border_entries.csv    entries of later months inside the archived checkpoints' batches
                          (a transaction that began before midnight and numbered after): copies
    checkpoints.csv       the checkpoints of the archived days
    manifest.json         bounds, the covering checkpoint run, each file's SHA-256, size and rows
    SHA256SUMS            `sha256sum -c SHA256SUMS` checks every file, the manifest included

`verify_archive` rehashes the files and recomputes every archived checkpoint's hash from the
exported entries (balances.checkpoints says how): a dump that hashes to the live checkpoints is
the ledger. The manifest's own SHA-256 is kept in the live database (LedgerArchive).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import heapq
import json
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from balances import partitions
from balances.checkpoints import chain_hash
from balances.models import Checkpoint, CheckpointRun, LedgerArchive

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
FILES = ("operations.csv", "entries.csv", "border_entries.csv", "checkpoints.csv")


class ArchiveRefused(Exception):
    """The month cannot be archived (yet): the message says why."""


@dataclass(frozen=True)
class Plan:
    operations: partitions.Partition
    entries: partitions.Partition
    run: CheckpointRun
    previous_up_to: int  # the covering run of the month before: entries above it are this archive's

    @property
    def starts(self) -> dt.datetime | None:
        return self.entries.starts

    @property
    def ends(self) -> dt.datetime:
        return self.entries.ends

    @property
    def name(self) -> str:
        first = f"{self.starts:%Y-%m}" if self.starts else "beginning"
        return f"ledger-{first}-to-{self.ends:%Y-%m}"


def plan(month: dt.date, *, now: dt.datetime | None = None) -> Plan:
    now = now or dt.datetime.now(dt.UTC)
    if connection.vendor != "postgresql":
        raise ArchiveRefused("the ledger is partitioned, and archived, on PostgreSQL only")
    start = partitions.month_start(month)
    with connection.cursor() as cursor:
        if not partitions.is_partitioned(cursor):
            raise ArchiveRefused("the ledger is not partitioned yet: run `manage.py migrate`")
        found = {table: [p for p in partitions.partitions(cursor, table) if not p.default]
                 for table in partitions.TABLES}
    chosen = {}
    for table, parts in found.items():
        holding = [p for p in parts if (p.starts is None or p.starts <= start) and start < p.ends]
        if not holding:
            raise ArchiveRefused(f"no partition of {table} holds {start:%Y-%m}: archived already, or never made")
        if holding[0] is not parts[0]:
            raise ArchiveRefused(f"{holding[0].name} is not the oldest partition ({parts[0].name} is): "
                                 "months are archived oldest first")
        chosen[table] = holding[0]
    operations, entries = chosen[partitions.OPERATION], chosen[partitions.ENTRY]
    if (operations.starts, operations.ends) != (entries.starts, entries.ends):
        raise ArchiveRefused(f"{operations.name} and {entries.name} do not cover the same months")
    keep = partitions.add_months(partitions.month_start(now), -settings.B2B_LEDGER_KEEP_MONTHS)
    if entries.ends > keep:
        raise ArchiveRefused(f"{entries.name} ends {entries.ends:%Y-%m-%d}, within the last "
                             f"{settings.B2B_LEDGER_KEEP_MONTHS} months kept live (B2B_LEDGER_KEEP_MONTHS)")
    last_day = (entries.ends - dt.timedelta(days=1)).date()
    run = CheckpointRun.objects.filter(day=last_day).first()
    if run is None:
        raise ArchiveRefused(f"no checkpoint run of {last_day}: run `manage.py ledger_checkpoint --day {last_day}` "
                             "(checkpoints are what ledger_verify starts from once the month is gone)")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(id) FROM {entries.name}")
        (top_entry,) = cursor.fetchone()
        cursor.execute(f"SELECT max(id) FROM {operations.name}")
        (top_operation,) = cursor.fetchone()
    if (top_entry or 0) > run.up_to_entry_id or (top_operation or 0) > run.up_to_operation_id:
        raise ArchiveRefused(f"{entries.name} holds entries or operations past the checkpoint run of {last_day} "
                             "(committed after it ran): they are not covered by a checkpoint")
    previous = None
    if entries.starts is not None:
        previous = CheckpointRun.objects.filter(day__lt=entries.starts.date()).order_by("-day").first()
    return Plan(operations=operations, entries=entries, run=run,
                previous_up_to=previous.up_to_entry_id if previous else 0)


def _days(plan: Plan) -> str:
    first = f"c.day >= '{plan.starts.date()}' AND " if plan.starts else ""
    return f"{first}c.day <= '{plan.run.day}'"


def _queries(plan: Plan) -> dict[str, str]:
    ops, entries = plan.operations.name, plan.entries.name
    entry_columns = ("e.id, e.kind, e.amount, e.realized_amount, e.balance_after, e.comment, e.created_at, "
                     "e.balance_id, e.operation_id, e.created_by_id, o.request_id")
    return {
        "operations.csv": f"SELECT * FROM {ops} ORDER BY id",
        # An entry's operation is in the same month's partition (ledger_verify checks it); one
        # found nowhere leaves its request_id empty, and the checkpoints then refuse to verify.
        "entries.csv": f"SELECT {entry_columns} FROM {entries} e LEFT JOIN {ops} o "
                       f"ON o.id = e.operation_id ORDER BY e.balance_id, e.id",
        "border_entries.csv": f"SELECT {entry_columns} FROM {partitions.ENTRY} e LEFT JOIN {partitions.OPERATION} o "
                              f"ON o.id = e.operation_id "
                              f"WHERE e.created_at >= '{plan.ends.isoformat()}' AND e.id > {plan.previous_up_to} "
                              f"AND e.id <= {plan.run.up_to_entry_id} ORDER BY e.balance_id, e.id",
        "checkpoints.csv": f"SELECT c.*, b.balance_id AS balance FROM {Checkpoint._meta.db_table} c "
                           f"JOIN balances_balance b ON b.id = c.balance_id WHERE {_days(plan)} "
                           f"ORDER BY c.balance_id, c.day",
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def export(plan: Plan, directory: Path) -> tuple[Path, str]:
    """Write the archive of `plan` under `directory`; returns its folder and its manifest's SHA-256.
    One snapshot (REPEATABLE READ) for every file. A folder left by an interrupted export is
    written again; one holding a finished export of other rows is refused."""
    folder = directory / plan.name
    if (folder / MANIFEST).exists():
        raise ArchiveRefused(f"{folder} holds an export already (ledger_archive_verify checks it)")
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("SET LOCAL TimeZone = 'UTC'")
        for name, query in _queries(plan).items():
            path = folder / name
            digest, size = hashlib.sha256(), 0
            with path.open("wb") as handle, \
                    cursor.cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
                for block in copy:
                    block = bytes(block)
                    digest.update(block)
                    size += len(block)
                    handle.write(block)
                handle.flush()
            # The COPY's own row count (its command tag): the query is not run a second time.
            files[name] = {"sha256": digest.hexdigest(), "bytes": size, "rows": cursor.cursor.rowcount}
        cursor.execute(f"SELECT min(id), max(id) FROM {plan.entries.name}")
        first_id, last_id = cursor.fetchone()
    manifest = {
        "format": FORMAT, "starts": _iso(plan.starts), "ends": _iso(plan.ends),
        "partitions": [plan.operations.name, plan.entries.name],
        "checkpoint_run": {"day": str(plan.run.day), "up_to_entry_id": plan.run.up_to_entry_id,
                           "up_to_operation_id": plan.run.up_to_operation_id},
        "previous_up_to_entry_id": plan.previous_up_to,
        "operations": files["operations.csv"]["rows"], "entries": files["entries.csv"]["rows"],
        "first_entry_id": first_id, "last_entry_id": last_id,
        "files": files, "exported_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (folder / MANIFEST).write_bytes(body)
    sums = "".join(f"{meta['sha256']}  {name}\n" for name, meta in files.items())
    sums += f"{hashlib.sha256(body).hexdigest()}  {MANIFEST}\n"
    (folder / SUMS).write_text(sums)
    return folder, hashlib.sha256(body).hexdigest()


# --- verification ---------------------------------------------------------------------------------

@dataclass
class Verified:
    problems: list[str]
    manifest_sha256: str = ""
    entries: int = 0
    checkpoints: int = 0


def _rows(path: Path):
    with path.open(newline="", encoding="utf-8") as handle:
        yield from csv.DictReader(handle)


def _entry_key(row: dict) -> tuple[int, int]:
    return int(row["balance_id"]), int(row["id"])


def _hash_row(row: dict) -> tuple:
    return (int(row["id"]), row["request_id"], row["kind"], row["amount"], row["realized_amount"],
            row["balance_after"], dt.datetime.fromisoformat(row["created_at"]), row["comment"])


def verify_archive(folder: Path, *, against_live: bool = True) -> Verified:
    """Every file as the manifest says, and every archived checkpoint recomputed from the entries.
    With `against_live`, the checkpoints also match the live database's and the manifest the
    one recorded when the month was removed."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return Verified([f"{manifest_path} is missing"])
    body = manifest_path.read_bytes()
    result = Verified([], manifest_sha256=hashlib.sha256(body).hexdigest())
    try:
        manifest = json.loads(body)
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as exc:
        return Verified([f"{MANIFEST} is not a manifest of this format: {exc}"])
    if manifest.get("format") != FORMAT:
        return Verified([f"{MANIFEST} has format {manifest.get('format')!r}, not {FORMAT}"])
    for name in FILES:
        path, meta = folder / name, files.get(name)
        if meta is None or not path.is_file():
            result.problems.append(f"{name} is missing")
            continue
        if path.stat().st_size != meta["bytes"] or _sha256(path) != meta["sha256"]:
            result.problems.append(f"{name} does not match its SHA-256 in the manifest")
            continue
        rows = sum(1 for _ in _rows(path))
        if rows != meta["rows"]:
            result.problems.append(f"{name} holds {rows} rows, the manifest says {meta['rows']}")
    if result.problems:
        return result
    low, high = manifest["previous_up_to_entry_id"], manifest["checkpoint_run"]["up_to_entry_id"]
    entries = heapq.merge(_rows(folder / "entries.csv"), _rows(folder / "border_entries.csv"), key=_entry_key)
    entries = (row for row in entries if low < int(row["id"]) <= high)
    pending = next(entries, None)
    checkpoints = sorted(_rows(folder / "checkpoints.csv"), key=lambda c: (int(c["balance_id"]), c["day"]))
    for balance_pk, group in groupby(checkpoints, key=lambda c: int(c["balance_id"])):
        while pending is not None and int(pending["balance_id"]) < balance_pk:
            pending = next(entries, None)
        for checkpoint in group:
            batch = []
            while (pending is not None and int(pending["balance_id"]) == balance_pk
                   and int(pending["id"]) <= int(checkpoint["last_entry_id"])):
                batch.append(_hash_row(pending))
                pending = next(entries, None)
            digest, count = chain_hash(checkpoint["previous_hash"], batch)
            result.entries += count
            result.checkpoints += 1
            if (digest, count) != (checkpoint["hash"], int(checkpoint["entries"])):
                result.problems.append(f"checkpoint of {checkpoint['balance']} on {checkpoint['day']} does not match "
                                       f"the exported entries ({count} hash to {digest[:12]}…, recorded "
                                       f"{checkpoint['entries']} and {checkpoint['hash'][:12]}…)")
    if against_live:
        days = Checkpoint.objects.filter(day__gte=manifest["starts"][:10] if manifest["starts"] else dt.date.min,
                                         day__lte=manifest["checkpoint_run"]["day"])
        live = {(c.balance_id, str(c.day)): c.hash for c in days}
        exported = {(int(c["balance_id"]), c["day"]): c["hash"] for c in checkpoints}
        if live != exported:
            result.problems.append(f"the exported checkpoints ({len(exported)}) are not the live database's "
                                   f"({len(live)}) for these days")
        recorded = LedgerArchive.objects.filter(ends=manifest["ends"]).first()
        if recorded is not None and recorded.manifest_sha256 != result.manifest_sha256:
            result.problems.append(f"{MANIFEST} hashes to {result.manifest_sha256[:12]}…, the live database "
                                   f"recorded {recorded.manifest_sha256[:12]}… when the month was removed")
    return result


# --- removal --------------------------------------------------------------------------------------

def remove(plan: Plan, *, manifest_sha256: str, location: str) -> float:
    """Detach and drop the two partitions and record the archive, in one short transaction (a
    DETACH locks the partitioned table for a moment; with a DEFAULT partition it cannot be
    CONCURRENTLY). Returns how long it held the transaction (seconds)."""
    manifest = json.loads((Path(location) / MANIFEST).read_text())

    def work(cursor):
        partitions.lock_ledger(cursor)
        for part in (plan.entries, plan.operations):
            cursor.execute(f"ALTER TABLE {part.table} DETACH PARTITION {part.name}")
            cursor.execute(f"DROP TABLE {part.name}")
        LedgerArchive.objects.create(
            starts=plan.starts, ends=plan.ends, last_day=plan.run.day, operations=manifest["operations"],
            entries=manifest["entries"], first_entry_id=manifest["first_entry_id"],
            last_entry_id=manifest["last_entry_id"], manifest_sha256=manifest_sha256, location=location)

    return partitions.with_short_locks(connection, work, what=f"removing {plan.entries.name}")
