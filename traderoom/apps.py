from django.apps import AppConfig


class TraderoomConfig(AppConfig):
    """The end user's trading-room page and the gateway client (built on the balances app)."""

    name = "traderoom"

    def ready(self) -> None:
        from traderoom import checks  # noqa: F401  (registers the configuration check)
