"""The wallet: balances, the idempotency record of every operation, and the append-only ledger.

The database itself guards the money (see migration 0002):
- `balance.amount >= 0` (CHECK): no code path can overdraw;
- operations and ledger entries reject UPDATE and DELETE (triggers): history is immutable;
- a request_id is claimed once (`RequestId`, its primary key): a request is applied at most once,
  whoever races.

On PostgreSQL operations and entries are partitioned by month of `created_at` (migration 0012,
balances.partitions), so old months can be archived and leave the live database. A partitioned
table's unique keys must include the month, hence the narrow `RequestId` table, and the links
between operations and entries are kept by this package rather than by foreign keys there.
An operation and its entry always carry the same `created_at` (one transaction's time): they
live in the same month.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from balances.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from customers.ids import EXTERNAL_ID_MAX_LENGTH, EXTERNAL_ID_PATTERN
from customers.models import Customer

REQUEST_ID_MAX_LENGTH = 255


def _money(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs)


class BalanceType(models.TextChoices):
    REAL = "real"
    DEMO = "demo"


class Kind(models.TextChoices):
    DEBIT = "debit"  # Quadcode opened a position
    CREDIT = "credit"  # Quadcode closed a position
    DEPOSIT = "deposit"  # money brought in by the broker (opening amount, a staff deposit)
    WITHDRAWAL = "withdrawal"  # money paid out by the broker
    CORRECTION_IN = "correction_in", "correction (+)"  # a staff correction upwards
    CORRECTION_OUT = "correction_out", "correction (−)"  # a staff correction downwards
    # Money set aside for a pending outgoing request: it leaves what Quadcode sees and may debit
    # at once, and comes back with a release (reversal_of = the hold) if the request fails.
    HOLD = "hold"
    RELEASE = "release"
    # The linked opposite of a posted staff adjustment (reversal_of = the adjustment).
    REVERSAL_IN = "reversal_in", "reversal (+)"
    REVERSAL_OUT = "reversal_out", "reversal (−)"

    @property
    def sign(self) -> int:
        return -1 if self in OUTGOING else 1


# Kinds that take money off a balance (never below zero); every other kind adds.
OUTGOING = frozenset({Kind.DEBIT, Kind.WITHDRAWAL, Kind.CORRECTION_OUT, Kind.HOLD, Kind.REVERSAL_OUT})
# What staff post (through requests: backoffice); Quadcode's debits and credits are never among them.
ADJUSTMENTS = (Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.CORRECTION_IN, Kind.CORRECTION_OUT)
# What may be linked to an earlier operation, and to which kinds: a release undoes a hold; a
# reversal undoes a staff adjustment in the opposite direction.
REVERSES = {
    Kind.RELEASE: frozenset({Kind.HOLD}),
    Kind.REVERSAL_OUT: frozenset({Kind.DEPOSIT, Kind.CORRECTION_IN}),
    Kind.REVERSAL_IN: frozenset({Kind.WITHDRAWAL, Kind.CORRECTION_OUT}),
}


class Balance(models.Model):
    balance_id = models.CharField(max_length=EXTERNAL_ID_MAX_LENGTH, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="balances")
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=4, choices=BalanceType.choices, default=BalanceType.REAL)
    # Changed only together with a ledger entry, by balances.services; never edited.
    amount = _money(default=Decimal(0), editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("adjust_balance", "Can request deposits, withdrawals, corrections and reversals"),
                       ("approve_adjustment", "Can approve or reject another staff member's request")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="balance_amount_not_negative"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="balance_currency_iso"),
            models.CheckConstraint(condition=Q(balance_id__regex=EXTERNAL_ID_PATTERN), name="balance_id_charset"),
        ]
        indexes = [models.Index(fields=["customer", "created_at"])]

    def __str__(self) -> str:
        return f"{self.balance_id} ({self.currency})"


class Operation(models.Model):
    """What was asked, keyed by request_id: the idempotency record.

    A debit or credit claims its request_id here in the same statement that applies it.
    An operation with a ledger entry was applied (201); a debit without one was declined
    for insufficient funds (402). Replays are answered from these rows.
    """

    request_id = models.CharField(max_length=REQUEST_ID_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # No index of its own: a balance's history is read through its ledger entries.
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="operations", db_index=False)
    amount = _money()
    force = models.BooleanField(default=False)
    # The operation this one undoes (a release its hold, a reversal its adjustment): at most once,
    # which the database enforces with a unique index over the few rows that have one.
    reversal_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="reversals", db_index=False, db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A plain unique index (no extra LIKE index): every index costs on the hot path.
            models.UniqueConstraint(fields=["request_id"], name="operation_request_id_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="operation_amount_positive"),
            models.UniqueConstraint(fields=["reversal_of"], condition=Q(reversal_of__isnull=False),
                                    name="operation_reversed_once"),
        ]
        # Only the holds: what pending requests set aside is found without reading every operation.
        indexes = [models.Index(fields=["balance"], condition=Q(kind="hold"), name="operation_holds")]

    def __str__(self) -> str:
        return self.request_id


class RequestId(models.Model):
    """A request_id, claimed by the operation it names: at most one per request_id, for ever
    (months archived out of the live database keep their claims here, so a late retry of an
    archived request is still answered as a replay, never applied again)."""

    request_id = models.CharField(max_length=REQUEST_ID_MAX_LENGTH, primary_key=True)
    operation_id = models.BigIntegerField()
    # The operation's own created_at: where (which month) to find it.
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.request_id


class LedgerEntry(models.Model):
    """What was done: one money movement, never updated or deleted."""

    operation = models.OneToOneField(Operation, on_delete=models.PROTECT, related_name="entry", db_constraint=False)
    # Indexed together with id below (a balance's entries in order).
    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="entries", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount = _money()
    realized_amount = _money()
    balance_after = _money()
    comment = models.TextField(blank=True)
    # The staff member who posted an adjustment; empty for Quadcode's debits and credits.
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    # Its operation's created_at (balances.services passes it): the two share a month's partition.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="entry_amount_positive"),
            models.CheckConstraint(
                condition=Q(realized_amount__gte=0, realized_amount__lte=F("amount")),
                name="entry_realized_within_amount",
            ),
            models.CheckConstraint(
                condition=Q(kind="debit") | Q(realized_amount=F("amount")), name="entry_only_debit_partial"
            ),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="entry_balance_after_not_negative"),
        ]
        indexes = [models.Index(fields=["balance", "id"])]

    @property
    def request_id(self) -> str:
        return self.operation.request_id

    def __str__(self) -> str:
        return f"{self.kind} {self.realized_amount} on {self.balance_id}"


class Checkpoint(models.Model):
    """A balance's state after a day's batch of entries, chained by hash to the one before it.

    `hash` = SHA-256 over `previous_hash` and the batch's entries in order (balances.checkpoints
    says exactly how), so a rewritten or deleted old entry — even with the append-only triggers
    disabled — no longer matches, and neither does any checkpoint after it. Append-only itself.
    `ledger_verify` starts from the latest checkpoints: its cost grows with new entries, not with
    history; `ledger_verify --full` recomputes every hash.
    """

    balance = models.ForeignKey(Balance, on_delete=models.PROTECT, related_name="checkpoints", db_index=False)
    day = models.DateField(help_text="The day (UTC) whose entries end with this checkpoint.")
    closing_amount = _money()
    # Not a foreign key on purpose: old entries may one day be archived out of the live database.
    last_entry_id = models.BigIntegerField()
    entries = models.PositiveIntegerField(help_text="How many entries this checkpoint's hash covers.")
    previous_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["balance", "day"], name="checkpoint_one_per_balance_and_day")]
        ordering = ["balance_id", "day"]

    def __str__(self) -> str:
        return f"{self.balance_id} {self.day}: {self.closing_amount}"


class CheckpointRun(models.Model):
    """One day's checkpointing: the entries and operations it covered, up to these ids."""

    day = models.DateField(unique=True)
    up_to_entry_id = models.BigIntegerField()
    up_to_operation_id = models.BigIntegerField()
    checkpoints = models.PositiveIntegerField()
    entries = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)


class VerifyRun(models.Model):
    """One run of ledger_verify: when, how deep, and what it found (for the alert on its age)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    full = models.BooleanField()
    problems = models.PositiveIntegerField()
    balances = models.PositiveIntegerField()
    entries_checked = models.BigIntegerField()

    @property
    def ok(self) -> bool:
        return self.problems == 0


class LedgerArchive(models.Model):
    """One month range (a partition pair) exported, verified and removed from the live database.

    Archived in order, oldest first: everything created before `ends` is in archives. Its
    checkpoints stay: `ledger_verify --full` starts from the checkpoint run of `last_day`, and
    `ledger_archive_verify` recomputes the archived checkpoints' hashes from the export."""

    starts = models.DateTimeField(null=True, help_text="Empty: from the ledger's beginning.")
    ends = models.DateTimeField(unique=True)
    last_day = models.DateField(help_text="The day of the checkpoint run that covers every archived entry.")
    operations = models.BigIntegerField()
    entries = models.BigIntegerField()
    first_entry_id = models.BigIntegerField(null=True)
    last_entry_id = models.BigIntegerField(null=True)
    manifest_sha256 = models.CharField(max_length=64)
    location = models.TextField(help_text="Where the export was written.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["ends"]

    def __str__(self) -> str:
        return f"ledger before {self.ends:%Y-%m-%d}"
