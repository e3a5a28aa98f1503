from django.apps import AppConfig


class AccountConfig(AppConfig):
    """The customer's own wallet pages: balances and statements, deposits, withdrawals with a
    second factor, and API sessions for trading programs. A customer's withdrawal is one more
    request in the staff's workflow (backoffice), approved by staff."""

    name = "account"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from account import checks  # noqa: F401  (registers the start-up checks)
