"""What a customer reads for each kind of ledger entry: never an internal id, a request key or
a staff member's name."""

from django.utils.translation import gettext_lazy as _

from balances.models import Kind

DESCRIPTIONS = {
    Kind.DEBIT: _("Option opened"),
    Kind.CREDIT: _("Option closed"),
    Kind.DEPOSIT: _("Deposit"),
    Kind.WITHDRAWAL: _("Withdrawal approved"),
    Kind.CORRECTION_IN: _("Correction in your favour"),
    Kind.CORRECTION_OUT: _("Correction"),
    Kind.HOLD: _("Withdrawal requested: amount set aside"),
    Kind.RELEASE: _("Set-aside amount released"),
    Kind.REVERSAL_IN: _("Reversal in your favour"),
    Kind.REVERSAL_OUT: _("Reversal"),
}


def entry_description(kind: str) -> str:
    return str(DESCRIPTIONS[Kind(kind)])
