"""drf-spectacular hooks. The root schema (/api/schema/) is the balance API Quadcode calls; the
back-office API keeps its own (/backoffice/v1/schema/), so neither reader wades through the other."""


def without_backoffice(endpoints):
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith("/backoffice/")]


def only_backoffice(endpoints):
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/backoffice/")]
