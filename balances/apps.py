from django.apps import AppConfig


class BalancesConfig(AppConfig):
    name = "balances"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Fail at start, naming the variable, rather than on Quadcode's first call.
        from django.conf import settings

        from b2b_server.clientip import networks
        from b2b_server.ratelimit import rate_parse
        from balances.auth import _public_keys

        networks("B2B_ALLOWED_IPS")
        networks("B2B_TRUSTED_PROXIES")
        _public_keys(tuple(settings.QUADCODE_PUBLIC_KEY_FILES))
        if settings.B2B_API_RATE_PER_CUSTOMER:
            rate_parse(settings.B2B_API_RATE_PER_CUSTOMER, setting="B2B_API_RATE_PER_CUSTOMER")
