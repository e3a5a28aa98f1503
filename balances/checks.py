"""Start-up checks of the balance API's configuration (see b2b_server.startup)."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from b2b_server.startup import TAG
from balances.auth import quadcode_public_keys


@register(TAG)
def token_keys(app_configs, **kwargs):
    """Every file of QUADCODE_PUBLIC_KEY_FILES must hold a P-256 public key: fail at start rather
    than on Quadcode's first call."""
    try:
        quadcode_public_keys(tuple(settings.QUADCODE_PUBLIC_KEY_FILES))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="balances.E001")]
    return []
