from django.apps import AppConfig


class BalancesConfig(AppConfig):
    name = "balances"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from balances import (
            checks,  # noqa: F401  (registers the start-up checks)
            metrics,
        )

        metrics.register()
