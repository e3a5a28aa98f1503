"""The customer's pages talk to the gateway simulator (API sessions, available-withdrawal-amount)."""

from __future__ import annotations

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


@pytest.fixture(autouse=True)
def _gateway(gateway_settings):
    return gateway_settings


def current_code(device: TOTPDevice, *, drift: int = 0) -> str:
    """The code the customer's app shows now (drift: that many 30-second steps later; the device
    accepts one step either side)."""
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


@pytest.fixture
def device(trader) -> TOTPDevice:
    """The trader's confirmed second factor."""
    return TOTPDevice.objects.create(user=trader.user, name="authenticator", confirmed=True)
