"""Start-up checks of the gateway configuration (see b2b_server.startup)."""

from django.conf import settings
from django.core.checks import Error, register

from b2b_server.keys import load_es256_private_key
from b2b_server.startup import TAG


@register(TAG)
def gateway_configuration(app_configs, **kwargs):
    """With a gateway configured, our signing key and issuer must be usable."""
    if not settings.QUADCODE_API_URL:
        return []
    errors = []
    if not settings.B2B_JWT_ISSUER:
        errors.append(Error("B2B_JWT_ISSUER must be set (the iss Quadcode gave us) when QUADCODE_API_URL is set.",
                            id="quadcode.E001"))
    try:
        load_es256_private_key(settings.B2B_PRIVATE_KEY_FILE)
    except (OSError, ValueError) as exc:
        errors.append(Error(f"B2B_PRIVATE_KEY_FILE: no usable ES256 private key ({exc}).", id="quadcode.E002"))
    return errors
