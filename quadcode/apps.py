from django.apps import AppConfig


class QuadcodeConfig(AppConfig):
    """Keeping Quadcode's gateway in step: the one client, the outbox of calls we owe it and its
    tasks, the allowed countries. Carries data; moves no money by itself."""

    name = "quadcode"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from quadcode import (
            checks,  # noqa: F401  (registers the start-up checks)
            metrics,
        )

        metrics.register()
