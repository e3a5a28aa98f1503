"""Start-up checks of the staff controls' configuration (see b2b_server.startup)."""

from django.conf import settings
from django.core.checks import Error, register

from b2b_server.errors import DomainError
from b2b_server.startup import TAG
from balances.money import currency_exponent


@register(TAG)
def four_eyes_thresholds(app_configs, **kwargs):
    errors = []
    for currency in settings.B2B_FOUR_EYES_FROM:
        if currency == "*":
            continue
        try:
            currency_exponent(currency)
        except DomainError as exc:
            errors.append(Error(f"B2B_FOUR_EYES_FROM: {exc.message}", id="backoffice.E001"))
    return errors
