from django.apps import AppConfig


class TraderoomConfig(AppConfig):
    """The end user's trading-room page and its session bootstrap (on top of quadcode)."""

    name = "traderoom"
