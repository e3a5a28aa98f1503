"""Configuration mistakes stop the server at start with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# A master key for personal data, as `manage.py pii_keygen` prints one (required outside the sandbox).
PII_KEY = "dGVzdC1vbmx5LXBlcnNvbmFsLWRhdGEta2V5LTMyISE="


def manage_check(**env_overrides):
    env = {**os.environ, **env_overrides}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize("variable,value", [
    ("B2B_ALLOWED_IPS", "10.0.0.0/33"),
    ("B2B_TRUSTED_PROXIES", "proxy.example"),
    ("QUADCODE_PUBLIC_KEY_FILES", "/nonexistent/quadcode.pem"),
    ("B2B_ENVIRONMENT", "staging"),
    ("DJANGO_DEBUG", "maybe"),
    # A page rate with spaces once turned its limit off silently (django-ratelimit raised, and
    # the page took any failure for "cache down").
    ("B2B_LOGIN_RATE", "10 / minute"),
    ("B2B_API_RATE_PER_CUSTOMER", "0/minute"),
    ("QUADCODE_TIMEOUT", "fast"),
    ("DATABASE_CONN_MAX_AGE", "ten"),
    ("DATABASE_URL", "postgres://u@[db/x"),
])
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = manage_check(**{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


@pytest.mark.parametrize("variable,value", [
    ("B2B_LOGIN_RATE", "10 / minute"), ("B2B_LOGIN_RATE", "ten/minute"), ("B2B_LOGIN_RATE", "10/fortnight"),
    ("B2B_TRADEROOM_RATE_PER_USER", "10/0m"), ("B2B_TRADEROOM_RATE_PER_IP", "-1/m"),
    ("B2B_API_RATE_PER_CUSTOMER", " 1200/minute!"),
    ("B2B_ALLOWED_COUNTRIES_MAX_AGE", "-1"), ("DJANGO_HSTS_SECONDS", "1y"), ("DATABASE_CONN_MAX_AGE", "1.5"),
    ("QUADCODE_CONNECT_TIMEOUT", "0"), ("QUADCODE_TIMEOUT", "nan"), ("B2B_GATEWAY_RETRY_BASE", "inf"),
    ("B2B_GATEWAY_RETRY_MAX", "-600"), ("DATABASE_LOCK_TIMEOUT", "5s"), ("DATABASE_STATEMENT_TIMEOUT", "-1"),
    ("QUADCODE_BALANCE_PUSH", "sometimes"), ("B2B_METRICS_ALLOWED_IPS", "localhost"),
    ("DATABASE_SERVER_PREPARES", "sometimes"), ("DATABASE_SERVER_SIDE_CURSORS", "2"),
    ("DATABASE_MIGRATE_LOCK_TIMEOUT", "2s"), ("DATABASE_MIGRATE_URL", "postgres://u@[db/x"),
])
def test_every_number_rate_and_switch_is_checked_when_the_settings_are_read(monkeypatch, variable, value):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import b2b_server.settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(ImproperlyConfigured, match=variable):
        importlib.reload(b2b_server.settings)
    monkeypatch.delenv(variable)
    importlib.reload(b2b_server.settings)  # leave the module as the other tests found it


def test_the_database_connection_bounds_every_wait(db):
    from django.db import connection

    with connection.cursor() as cursor:
        shown = {}
        for name in ("lock_timeout", "statement_timeout", "idle_in_transaction_session_timeout"):
            cursor.execute(f"SHOW {name}")
            shown[name] = cursor.fetchone()[0]
    assert shown == {"lock_timeout": "5s", "statement_timeout": "30s", "idle_in_transaction_session_timeout": "1min"}


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_server_stops_at_start_on_a_bad_key_file(tmp_path):
    # granian never runs manage.py's system checks: the WSGI entry point runs ours itself.
    env = {**os.environ, "QUADCODE_PUBLIC_KEY_FILES": "/nonexistent/quadcode.pem", "GRANIAN_PORT": str(free_port()),
           "GRANIAN_WORKERS": "1", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}
    result = subprocess.run([str(ROOT / "bin" / "serve")], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "QUADCODE_PUBLIC_KEY_FILES: cannot read a PEM public key from /nonexistent/quadcode.pem" in result.stderr


def test_the_celery_worker_stops_at_start_on_a_bad_configuration(key_dir):
    env = {**os.environ, "QUADCODE_API_URL": "https://gateway.example", "B2B_JWT_ISSUER": "",
           "B2B_PRIVATE_KEY_FILE": str(key_dir / "b2b-private.pem"), "CELERY_BROKER_URL": "memory://"}
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "celery"), "-A", "b2b_server", "worker", "--pool", "solo",
                             "--loglevel", "warning"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "B2B_JWT_ISSUER must be set" in result.stderr


def test_a_key_file_that_is_not_p256_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / "rsa.pem").write_bytes(pem)
    result = manage_check(QUADCODE_PUBLIC_KEY_FILES=str(tmp_path / "rsa.pem"))
    assert result.returncode != 0
    assert "not a P-256" in result.stderr


@pytest.mark.parametrize("environment", ["production", "integration"])
def test_outside_the_sandbox_a_missing_secret_key_fails_at_start(environment):
    result = manage_check(B2B_ENVIRONMENT=environment, DJANGO_SECRET_KEY="", B2B_PII_KEYS=PII_KEY)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_a_complete_production_configuration_starts(key_dir):
    result = manage_check(B2B_ENVIRONMENT="production", DJANGO_SECRET_KEY="x" * 50, B2B_PII_KEYS=PII_KEY,
                          QUADCODE_PUBLIC_KEY_FILES=",".join(str(key_dir / f"{name}-public.pem")
                                                             for name in ("quadcode", "rotated")),
                          B2B_ALLOWED_IPS="203.0.113.0/24,2001:db8::/32", B2B_TRUSTED_PROXIES="10.0.0.1")
    assert result.returncode == 0, result.stderr


def test_a_gateway_without_our_key_or_issuer_fails_the_checks():
    result = manage_check(QUADCODE_API_URL="https://gateway.example", B2B_PRIVATE_KEY_FILE="", B2B_JWT_ISSUER="")
    assert result.returncode != 0
    assert "B2B_PRIVATE_KEY_FILE" in result.stderr and "B2B_JWT_ISSUER" in result.stderr


def test_a_gateway_with_our_key_and_issuer_passes(key_dir):
    result = manage_check(QUADCODE_API_URL="https://gateway.example", B2B_JWT_ISSUER="broker",
                          B2B_PRIVATE_KEY_FILE=str(key_dir / "b2b-private.pem"))
    assert result.returncode == 0, result.stderr


def test_check_deploy_is_clean_under_production_settings(key_dir):
    env = {**os.environ, "B2B_ENVIRONMENT": "production", "DJANGO_SECRET_KEY": "k" * 20 + "-Zq8!x" * 8,
           "B2B_PII_KEYS": PII_KEY,
           "QUADCODE_PUBLIC_KEY_FILES": str(key_dir / "quadcode-public.pem"), "B2B_ALLOWED_IPS": "203.0.113.0/24",
           "DJANGO_ALLOWED_HOSTS": "wallet.example.com"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("value,message", [("USD:1000,XYZ:5", "XYZ is not an ISO 4217 currency code"),
                                           ("USD 1000", "is not CUR:amount"), ("*:1,*:2", "named twice")])
def test_four_eyes_thresholds_are_checked_at_start(value, message):
    result = manage_check(B2B_FOUR_EYES_FROM=value)
    assert result.returncode != 0
    assert "B2B_FOUR_EYES_FROM" in result.stderr and message in result.stderr


def test_every_scheduled_task_exists():
    from django.conf import settings

    from b2b_server.celery import app

    app.loader.import_default_modules()
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in app.tasks, name
