from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The staff's side: requests to move money, four eyes, holds' lifecycle, reversals, the
    staff's second factor, and the admin of customers and balances whose actions combine the
    apps below (a block reaches the gateway; an adjustment may push the balance's state)."""

    name = "backoffice"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from backoffice import checks  # noqa: F401  (registers the start-up checks)

