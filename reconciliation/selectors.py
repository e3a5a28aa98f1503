"""Reads of the reconciliation."""

from django.db.models import Count

from reconciliation.models import Break


def open_breaks_by_kind() -> dict[str, int]:
    counts = dict(Break.objects.filter(resolved_at__isnull=True).values_list("kind").annotate(n=Count("id")))
    return {kind: counts.get(kind, 0) for kind in Break.Kind.values}
