from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The staff's side: the admin of customers and balances, whose actions combine the apps below
    (a block reaches the gateway; an adjustment may push the balance's state)."""

    name = "backoffice"
    default_auto_field = "django.db.models.BigAutoField"
