"""What operations rely on: /healthz, /metrics, one JSON log line per request."""

import json
import logging

import pytest
from django.core.cache import cache

from tests.conftest import body, ids


def test_healthz_is_ok_when_database_and_cache_answer(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_database_is_down(client):
    from tests.conftest import database_down

    with database_down():
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


@pytest.fixture
def cache_down(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    yield
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


def test_healthz_is_503_when_the_cache_is_down(client, db, cache_down):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "cache": "unavailable"}


def test_healthz_api_stays_200_degraded_when_only_the_cache_is_down(client, db, cache_down):
    # The balance API keeps moving money without Redis (its limiter keeps counting in each
    # process): its load balancer must keep routing to it, while the body still names the cache.
    response = client.get("/healthz/api")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}


@pytest.mark.django_db(transaction=True)
def test_healthz_api_is_503_when_the_database_is_down(client):
    from tests.conftest import database_down

    with database_down():
        response = client.get("/healthz/api")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


def test_metrics_count_requests_and_ledger_outcomes(client, quadcode, make_balance):
    balance = make_balance("10.00")
    path_ids = ids(balance)
    payload = body("1.00")
    quadcode.debit(*path_ids, payload)
    quadcode.debit(*path_ids, payload)
    quadcode.debit(*path_ids, body("500.00"))
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'b2b_ledger_operations_total{kind="debit",outcome="applied"}' in text
    assert 'b2b_ledger_operations_total{kind="debit",outcome="replayed"}' in text
    assert 'b2b_ledger_operations_total{kind="debit",outcome="insufficient_funds"}' in text
    assert 'b2b_http_requests_total{endpoint="balance-debit",method="POST",status="201"}' in text
    assert 'b2b_http_request_duration_seconds_bucket{endpoint="balance-debit"' in text


def test_metrics_are_for_the_monitoring_addresses_only(client, db):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_one_json_line_per_request_without_token_or_email(quadcode, make_balance, caplog):
    balance = make_balance("10.00")
    payload = body("1.00", comment="customer@example.com wins")
    with caplog.at_level(logging.INFO, logger="b2b.request"):
        quadcode.debit(balance.customer.customer_id, balance.balance_id, payload)
    records = [r for r in caplog.records if r.name == "b2b.request"]
    assert len(records) == 1
    line = records[0].getMessage()
    entry = json.loads(line)
    assert entry["method"] == "POST" and entry["status"] == 201
    assert entry["path"] == f"/v1/customers/{balance.customer.customer_id}/balances/{balance.balance_id}/debit"
    assert entry["customer_id"] == balance.customer.customer_id
    assert entry["request_id"] == payload["request_id"]
    assert entry["client_ip"] == "127.0.0.1"
    assert isinstance(entry["duration_ms"], float) and isinstance(entry["time"], float)
    assert "Bearer" not in line and "eyJ" not in line and "@example.com" not in line


def test_a_page_visitors_address_is_logged_cut_to_its_network(client, db, caplog):
    with caplog.at_level(logging.INFO, logger="b2b.request"):
        client.get("/login/", REMOTE_ADDR="198.51.100.77")
        client.get("/login/", REMOTE_ADDR="2001:db8:1:2::5")
    shown = [json.loads(r.getMessage())["client_ip"] for r in caplog.records if r.name == "b2b.request"]
    assert shown == ["198.51.100.0/24", "2001:db8:1::/48"]


def test_log_lines_and_tracebacks_lose_the_local_part_of_email_addresses(capsys):
    """The console handler's filter (b2b_server.logmask), on whatever logger wrote the line."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    log = logging.getLogger("b2b.test.mask")
    log.warning("mail to %s bounced", "zelda.quark@example.org")
    try:
        raise ValueError("no such address: zelda.quark@example.org")
    except ValueError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "zelda.quark" not in err
    assert "mail to ***@example.org bounced" in err and "no such address: ***@example.org" in err
