import pytest

from b2b_server.ratelimit import shared_limits_reset
from tests.integrations.signed import SignedClient, new_key


@pytest.fixture(autouse=True)
def fresh_limits():
    shared_limits_reset()
    yield
    shared_limits_reset()


@pytest.fixture
def signed(client):
    """signed(role, **api_key_create options) -> a SignedClient with a new key of that role."""
    def _make(role: str = "reader", *, remote: str = "127.0.0.1", **kw) -> SignedClient:
        key_id, secret = new_key(role, **kw)
        return SignedClient(client, key_id, secret, remote=remote)

    return _make
