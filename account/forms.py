"""The account pages' forms: each money form carries a one-time key (a double submit is one
request) and checks its amount in the chosen balance's own precision."""

from __future__ import annotations

import datetime as dt
import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from b2b_server.errors import DomainError
from balances.money import parse_amount


class _BalanceForm(forms.Form):
    balance_id = forms.ChoiceField(label=_("Balance"))
    amount = forms.CharField(label=_("Amount"), max_length=64,
                             widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}))
    key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, balances, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.balances = {b.balance_id: b for b in balances}
        self.fields["balance_id"].choices = [(b.balance_id, f"{b.balance_id} ({b.currency})") for b in balances]

    def clean(self):
        data = super().clean()
        balance = self.balances.get(data.get("balance_id"))
        if balance is not None and data.get("amount"):
            try:
                data["amount"] = parse_amount(data["amount"].strip(), balance.currency)
            except DomainError as exc:
                self.add_error("amount", exc.message)
        return data


class WithdrawForm(_BalanceForm):
    otp_token = forms.CharField(label=_("Code from your authenticator app"), max_length=8,
                                widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                              "autocomplete": "one-time-code"}))


class DepositForm(_BalanceForm):
    transfer_date = forms.DateField(label=_("Date of the transfer"), widget=forms.DateInput(attrs={"type": "date"}))
    their_reference = forms.CharField(label=_("Your transfer's reference (optional)"), max_length=64, required=False)

    def clean_transfer_date(self):
        value = self.cleaned_data["transfer_date"]
        if value > dt.date.today() + dt.timedelta(days=1):
            raise forms.ValidationError(_("The transfer cannot have been made in the future."))
        return value


class CodeForm(forms.Form):
    otp_token = forms.CharField(label=_("Code from your authenticator app"), max_length=8,
                                widget=forms.TextInput(attrs={"inputmode": "numeric",
                                                              "autocomplete": "one-time-code"}))


class ApiSessionForm(forms.Form):
    bot_name = forms.CharField(label=_("Program name"), max_length=60)
    bot_version = forms.CharField(label=_("Version"), max_length=30)
    strategy = forms.CharField(label=_("Strategy"), max_length=60)
    platform_id = forms.IntegerField(label=_("Platform id"), min_value=0, max_value=2**31 - 1)
    key = forms.CharField(widget=forms.HiddenInput, max_length=200)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)

    @property
    def user_agent(self) -> str:
        data = self.cleaned_data
        return f"{data['bot_name']}/{data['bot_version']} ({data['strategy']})"
