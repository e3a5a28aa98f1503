"""The "IP allowlist" rule, and who the client is behind our own proxies."""

import pytest

from b2b_server.clientip import client_allowed, client_ip
from tests.conftest import body, ledger_snapshot


@pytest.mark.parametrize("peer", ["127.0.0.1", "::1", "10.20.3.4", "10.20.255.255", "2001:db8:1:ffff::5",
                                  "::ffff:127.0.0.1", "::ffff:10.20.0.9"])
def test_allowed_addresses_and_networks(peer):
    assert client_allowed({"REMOTE_ADDR": peer})


@pytest.mark.parametrize("peer", ["127.0.0.2", "10.21.0.1", "192.168.1.1", "2001:db8:2::1", "::ffff:10.21.0.1",
                                  "", "localhost", "127.0.0.1:8080", "[::1]", "fe80::1%eth0", "1.2.3.4.5",
                                  "0127.0.0.1", " ", "::ffff:999.1.1.1"])
def test_other_or_malformed_peers_are_refused(peer):
    assert not client_allowed({"REMOTE_ADDR": peer})


def test_forwarded_for_is_ignored_from_an_untrusted_peer():
    # A stranger claiming to forward for an allowed address is still the stranger.
    assert not client_allowed({"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "127.0.0.1"})


class TestBehindTrustedProxies:
    @pytest.fixture(autouse=True)
    def proxies(self, settings):
        settings.B2B_TRUSTED_PROXIES = ["192.0.2.0/24", "2001:db8:ff::/64"]
        settings.B2B_ALLOWED_IPS = ["198.51.100.7"]

    def test_the_rightmost_untrusted_hop_is_the_client(self):
        meta = {"REMOTE_ADDR": "192.0.2.10", "HTTP_X_FORWARDED_FOR": "127.0.0.1, 198.51.100.7, 192.0.2.11"}
        assert str(client_ip(meta)) == "198.51.100.7"
        assert client_allowed(meta)

    def test_a_spoofed_leftmost_hop_does_not_help_a_stranger(self):
        meta = {"REMOTE_ADDR": "192.0.2.10", "HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.5"}
        assert str(client_ip(meta)) == "203.0.113.5"
        assert not client_allowed(meta)

    def test_ipv4_mapped_hops_count_as_ipv4(self):
        meta = {"REMOTE_ADDR": "::ffff:192.0.2.10", "HTTP_X_FORWARDED_FOR": "::ffff:198.51.100.7"}
        assert client_allowed(meta)

    def test_ipv6_proxy(self):
        meta = {"REMOTE_ADDR": "2001:db8:ff::1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}
        assert client_allowed(meta)

    def test_without_forwarded_for_the_proxy_itself_is_the_client(self):
        assert str(client_ip({"REMOTE_ADDR": "192.0.2.10"})) == "192.0.2.10"

    @pytest.mark.parametrize("forwarded", ["", "unknown", "198.51.100.7, garbage", "198.51.100.7,,192.0.2.3",
                                           "198.51.100.7:443", "[198.51.100.7]", "198.51.100.7;", "x" * 3000,
                                           "198.51.100.7, 2001:db8::1%25eth0"])
    def test_malformed_forwarded_for_fails_closed(self, forwarded):
        meta = {"REMOTE_ADDR": "192.0.2.10", "HTTP_X_FORWARDED_FOR": forwarded}
        assert client_ip(meta) is None
        assert not client_allowed(meta)


def test_a_refused_ip_gets_403_before_the_token_is_even_looked_at(quadcode, make_balance):
    balance = make_balance()
    before = ledger_snapshot()
    response = quadcode.debit(balance.customer.customer_id, balance.balance_id, body(), token="garbage",
                             REMOTE_ADDR="203.0.113.50")
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "message": "Access to server is forbidden."}
    assert ledger_snapshot() == before


def test_403_for_a_stranger_even_with_a_valid_token(quadcode, make_balance):
    balance = make_balance()
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id, REMOTE_ADDR="203.0.113.50")
    assert response.status_code == 403


def test_an_empty_allowlist_refuses_everyone(quadcode, make_balance, settings):
    settings.B2B_ALLOWED_IPS = []
    balance = make_balance()
    assert quadcode.get_balance(balance.customer.customer_id, balance.balance_id).status_code == 403
