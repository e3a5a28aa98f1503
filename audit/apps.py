from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only trail of who did what. Lowest of our apps, so that every writer records
    its row in its own transaction without importing anything above it."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
