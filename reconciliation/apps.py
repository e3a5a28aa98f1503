from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """The platform's operations report against our ledger: the breaks between the two, and how
    each was resolved."""

    name = "reconciliation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from reconciliation import metrics

        metrics.register()
