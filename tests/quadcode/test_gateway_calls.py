"""Blocking a customer reaches the gateway through the outbox: queued in the same transaction,
sent after the commit, retried through an outage, delivered once in effect — with the tasks run
in-process (no broker) and by a real Celery worker on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction

from audit.actors import Actor
from quadcode.models import GatewayCall
from quadcode.services import customer_block_propagated

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")


def block_calls(simulator) -> list[dict]:
    return [call for call in simulator.calls() if call["name"] == "block"]


@pytest.fixture
def known_customer(browser_client, trader, simulator):
    browser_client.get("/traderoom/")  # the customer now exists at the gateway
    return trader


def test_a_block_is_sent_after_the_commit(known_customer, simulator):
    customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id)
    assert [call["path"] for call in block_calls(simulator)] == [
        f"/v1/b2b-gateway/customers/{known_customer.customer_id}/block"]
    call = GatewayCall.objects.get(customer_id=known_customer.customer_id)
    assert call.delivered_at is not None and call.attempts == 1


def test_a_rolled_back_block_sends_nothing(known_customer, simulator):
    with pytest.raises(RuntimeError), transaction.atomic():
        customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id)
        raise RuntimeError("the surrounding change failed")
    assert block_calls(simulator) == []
    assert not GatewayCall.objects.exists()
    known_customer.refresh_from_db()
    assert not known_customer.is_blocked


def test_blocking_twice_and_unblocking_send_one_call(known_customer, simulator):
    customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id)
    customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id)
    customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id, blocked=False)
    assert len(block_calls(simulator)) == 1


def test_an_outage_delays_the_call_and_the_sweep_delivers_it(known_customer, simulator, settings):
    from django.core.management import call_command

    settings.B2B_GATEWAY_RETRY_BASE = 0.0
    simulator.fault("block", 503, times=2)
    customer_block_propagated(actor=Actor.system(), customer_id=known_customer.customer_id)
    call = GatewayCall.objects.get()
    assert call.delivered_at is None and call.attempts == 1 and "unavailable" in call.last_error
    call_command("gateway_calls_redeliver")  # still down
    call_command("gateway_calls_redeliver")  # back
    call.refresh_from_db()
    assert call.delivered_at is not None and call.attempts == 3
    assert len(block_calls(simulator)) == 3
    assert simulator.state_of_customer_blocked(known_customer.customer_id)


def _broker_up() -> bool:
    try:
        return redis.Redis.from_url(BROKER, socket_timeout=1).ping()
    except redis.RedisError:
        return False


@pytest.fixture
def worker_env(simulator, key_dir) -> dict:
    """The environment of a deployment with a broker: the test database, Redis, the simulator."""
    if not _broker_up():
        pytest.skip("no Redis broker at TEST_CELERY_BROKER_URL (bin/test starts one)")
    redis.Redis.from_url(BROKER).flushdb()
    db = connection.settings_dict
    return {**os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "CELERY_BROKER_URL": BROKER, "QUADCODE_API_URL": simulator.url, "B2B_JWT_ISSUER": "broker-test",
            "B2B_PRIVATE_KEY_FILE": str(key_dir / "b2b-private.pem"),
            "QUADCODE_PUBLIC_KEY_FILES": str(key_dir / "quadcode-public.pem"), "B2B_GATEWAY_RETRY_BASE": "0.2"}


@pytest.fixture
def worker(worker_env):
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "b2b_server", "worker", "--pool", "solo",
                                "--loglevel", "warning", "--without-gossip", "--without-mingle"],
                               cwd=ROOT, env=worker_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_real_worker_retries_through_an_outage_and_delivers_once(known_customer, simulator, worker, worker_env):
    simulator.fault("block", 503, times=3)
    # An operator blocks the customer in another process; the task goes through Redis.
    subprocess.run([sys.executable, "manage.py", "block_customer", known_customer.customer_id], cwd=ROOT,
                   env=worker_env, check=True, capture_output=True, timeout=60)
    known_customer.refresh_from_db()
    assert known_customer.is_blocked  # applied here at once; the gateway is told in the background
    delivered = wait_for(lambda: GatewayCall.objects.filter(delivered_at__isnull=False).exists())
    assert delivered, worker.stdout.read() if worker.poll() is not None else "not delivered in time"
    call = GatewayCall.objects.get()
    assert call.attempts == 4
    calls = block_calls(simulator)
    assert len(calls) == 4  # three refused during the outage, one accepted after it
    assert simulator.state_of_customer_blocked(known_customer.customer_id)
    time.sleep(1.0)  # nothing more arrives: delivered once in effect
    assert len(block_calls(simulator)) == 4


def test_the_admin_block_action_tells_the_gateway(known_customer, simulator, client, django_user_model):
    admin = django_user_model.objects.create_superuser("ops", "ops@example.com", "pw-ops-2026")
    client.force_login(admin)
    response = client.post("/admin/customers/customer/", {"action": "block", "_selected_action": [known_customer.pk]},
                           HTTP_HOST="localhost", follow=True)
    assert response.status_code == 200
    assert "1 customer(s) blocked" in response.content.decode()
    assert len(block_calls(simulator)) == 1 and simulator.state_of_customer_blocked(known_customer.customer_id)


@pytest.mark.parametrize("group,may_block", [("support", False), ("operations", True)])
def test_staff_groups_made_by_the_migration(known_customer, client, django_user_model, group, may_block):
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group

    # Transactional tests empty every table afterwards, migration data included: make the
    # groups again with the migration's own function (it is idempotent).
    importlib.import_module("backoffice.migrations.0003_staff_groups_finance").create_groups(apps, None)

    user = django_user_model.objects.create_user(f"{group}-1", password="pw-staff-2026", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    for url in ["/admin/customers/customer/", "/admin/balances/balance/", "/admin/balances/ledgerentry/",
                "/admin/quadcode/gatewaycall/"]:
        assert client.get(url, HTTP_HOST="localhost").status_code == 200, url
    client.post("/admin/customers/customer/", {"action": "block", "_selected_action": [known_customer.pk]},
                HTTP_HOST="localhost")
    known_customer.refresh_from_db()
    assert known_customer.is_blocked is may_block
    delete_page = client.get(f"/admin/customers/customer/{known_customer.pk}/delete/", HTTP_HOST="localhost")
    assert delete_page.status_code == 403
