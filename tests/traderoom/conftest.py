"""Every trading-room test talks to the gateway simulator."""

import pytest


@pytest.fixture(autouse=True)
def _gateway(gateway_settings):
    return gateway_settings
