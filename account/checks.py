"""Start-up checks of the account pages' configuration (see b2b_server.startup)."""

from django.conf import settings
from django.core.checks import Error, register
from django.template import Template, TemplateSyntaxError

from b2b_server.startup import TAG


@register(TAG)
def deposit_instructions(app_configs, **kwargs):
    try:
        Template(settings.B2B_DEPOSIT_INSTRUCTIONS)
    except TemplateSyntaxError as exc:
        return [Error(f"B2B_DEPOSIT_INSTRUCTIONS is not a valid template: {exc}", id="account.E001")]
    return []
