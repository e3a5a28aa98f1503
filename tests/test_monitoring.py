"""Monitoring: the state metrics on /metrics, the alert rules under promtool, and every metric that
the rules and the Grafana dashboard name exists on /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from b2b_server import metrics
from tests.conftest import body, ids

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "b2b-dashboard.json"
_SUFFIXES = ("_bucket", "_count", "_sum", "_total", "_created")


@pytest.fixture(autouse=True)
def fresh_readings():
    metrics.state_readings_forget()
    yield
    metrics.state_readings_forget()


def scrape(client) -> str:
    metrics.state_readings_forget()
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return response.content.decode()


def value(text: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    assert match, f"{name}{labels} not on /metrics"
    return float(match.group(1))


def named_metrics() -> set[str]:
    exprs = [rule["expr"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    exprs += [target["expr"] for panel in json.loads(DASHBOARD.read_text())["panels"] for target in panel["targets"]]
    return {name for expr in exprs for name in re.findall(r"\bb2b_[a-z_]+", expr)}


def base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


@pytest.mark.django_db
def test_every_metric_the_rules_and_the_dashboard_name_is_on_metrics(client, quadcode, make_balance):
    balance = make_balance("10.00")
    quadcode.debit(*ids(balance), body("1.00"))  # requests and ledger outcomes have samples
    text = scrape(client)
    exported = {base(m) for m in re.findall(r"^# TYPE (\S+) ", text, re.M)}
    names = named_metrics()
    assert len(names) >= 12
    missing = sorted(name for name in names if base(name) not in exported)
    assert missing == []


@pytest.mark.django_db(transaction=True)
def test_the_state_metrics_follow_the_states(client, make_balance, settings):
    from audit.actors import Actor
    from balances.verify import ledger_verify_recorded
    from quadcode.services import customer_block_propagated

    usd, eur = make_balance("100.00"), make_balance("7.50", currency="EUR")
    settings.QUADCODE_API_URL = "http://127.0.0.1:9"  # the gateway is unreachable: the call stays owed
    customer_block_propagated(customer_id=usd.customer.customer_id, actor=Actor.system())
    text = scrape(client)
    assert value(text, "b2b_liabilities", '{currency="USD"}') == 100.0
    assert value(text, "b2b_liabilities", '{currency="EUR"}') == 7.5
    assert value(text, "b2b_outbox_pending") == 1
    assert value(text, "b2b_outbox_oldest_pending_seconds") >= 0
    assert value(text, "b2b_ledger_verify_last_success_timestamp_seconds") == 0
    assert value(text, "b2b_dependency_up", '{dependency="database"}') == 1
    assert value(text, "b2b_reconciliation_breaks", '{kind="missing_here"}') == 0
    ledger_verify_recorded()
    from django.utils import timezone

    from reconciliation.models import Break, ReportImport

    report = ReportImport.objects.create(name="r", sha256="0" * 64, window_start=timezone.now(),
                                         window_end=timezone.now(), rows=1, matched=0, missing_here=1,
                                         missing_there=0, mismatched=0, imported_by="test")
    Break.objects.create(kind="missing_here", request_id="x", first_seen=report, last_seen=report)
    text = scrape(client)
    assert value(text, "b2b_ledger_verify_last_success_timestamp_seconds") > 1.7e9
    assert value(text, "b2b_reconciliation_breaks", '{kind="missing_here"}') == 1
    assert eur.amount == Decimal("7.50")


@pytest.mark.django_db
def test_the_scheduler_heartbeat_is_on_metrics_once_it_ran(client):
    from b2b_server.celery import scheduler_heartbeat

    assert not re.search(r"^b2b_scheduler_heartbeat_timestamp_seconds ", scrape(client), re.M)  # no sample yet
    beat = scheduler_heartbeat.delay().get()
    assert value(scrape(client), "b2b_scheduler_heartbeat_timestamp_seconds") == pytest.approx(beat)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian's prometheus) is not installed")
def test_the_alert_rules_pass_their_promtool_tests():
    checked = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", "alerts_test.yml"], cwd=RULES.parent, capture_output=True,
                            text=True, timeout=120)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_its_runbook_entry():
    runbook = (ROOT / "docs" / "alerts.md").read_text()
    alerts = [rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]
    assert len(alerts) == 8
    assert [alert for alert in alerts if f"## {alert}" not in runbook] == []
