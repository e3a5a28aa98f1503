"""Configuration mistakes stop the server at start with a message naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
])
def test_a_bad_value_fails_at_start_naming_the_variable(variable, value):
    result = manage_check(**{variable: value})
    assert result.returncode != 0
    assert variable in result.stderr


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
    result = manage_check(B2B_ENVIRONMENT=environment, DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_a_complete_production_configuration_starts(key_dir):
    result = manage_check(B2B_ENVIRONMENT="production", DJANGO_SECRET_KEY="x" * 50,
                          QUADCODE_PUBLIC_KEY_FILES=f"{key_dir / 'quadcode-public.pem'},{key_dir / 'rotated-public.pem'}",
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
           "QUADCODE_PUBLIC_KEY_FILES": str(key_dir / "quadcode-public.pem"), "B2B_ALLOWED_IPS": "203.0.113.0/24",
           "DJANGO_ALLOWED_HOSTS": "wallet.example.com"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
