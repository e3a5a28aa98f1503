"""Staff security: the admin login is limited like the customers' (B2B_LOGIN_RATE per IP and per
username), every login and failed login is in the audit trail, and with B2B_STAFF_MFA staff
need a TOTP second factor to log in and to open any admin page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent

LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-2026", is_staff=True, is_superuser=True)


def code(device) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):0{device.digits}d}"


def post_login(client, ip="203.0.113.7", **data):
    return client.post(LOGIN, data, REMOTE_ADDR=ip, HTTP_HOST="localhost")


def test_the_eleventh_wrong_admin_password_gets_429(client, staff, settings):
    assert settings.B2B_LOGIN_RATE == "10/minute"
    statuses = [post_login(client, username="alice", password=f"guess-{i}").status_code for i in range(11)]
    assert statuses == [200] * 10 + [429]
    response = post_login(client, username="alice", password="pw-alice-2026")
    assert response.status_code == 429 and response["Retry-After"]
    failed = AuditEvent.objects.filter(action="staff_login_failed", target="user:alice")
    assert failed.count() == 10  # refused attempts are not evaluated, so not recorded as failures
    assert failed.first().details["ip"] == "203.0.113.7"


def test_the_limit_is_per_username_too_from_many_addresses(client, staff, settings):
    settings.B2B_LOGIN_RATE = "3/d"
    statuses = [post_login(client, ip=f"198.51.100.{i}", username="alice", password="x").status_code
                for i in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_without_mfa_a_password_logs_in_and_is_recorded(client, staff, settings):
    settings.B2B_STAFF_MFA = False
    response = post_login(client, username="alice", password="pw-alice-2026")
    assert response.status_code == 302
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200
    event = AuditEvent.objects.get(action="staff_login")
    assert (event.actor, event.target, event.details["second_factor"]) == ("alice", "user:alice", False)


def test_with_mfa_the_login_form_asks_for_otp_token_and_a_password_alone_is_refused(client, staff, settings):
    settings.B2B_STAFF_MFA = True
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    page = client.get(LOGIN, HTTP_HOST="localhost").content.decode()
    assert 'name="otp_token"' in page
    refused = post_login(client, username="alice", password="pw-alice-2026")
    assert refused.status_code == 200
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 302  # not logged in
    wrong = post_login(client, username="alice", password="pw-alice-2026", otp_token="000000")
    assert wrong.status_code == 200
    # After a wrong code the device refuses to verify for a while (django-otp's throttling, doubling).
    throttled = post_login(client, username="alice", password="pw-alice-2026", otp_token=code(device))
    assert throttled.status_code == 200 and "temporarily disabled" in throttled.content.decode()
    assert AuditEvent.objects.filter(action="staff_login_failed").count() == 3
    device.refresh_from_db()
    device.throttle_reset()  # as the waiting does
    accepted = post_login(client, username="alice", password="pw-alice-2026", otp_token=code(device))
    assert accepted.status_code == 302
    assert client.get("/admin/", HTTP_HOST="localhost").status_code == 200
    assert AuditEvent.objects.get(action="staff_login").details["second_factor"] is True


def test_with_mfa_staff_without_a_confirmed_device_cannot_open_any_admin_page(client, staff, settings):
    settings.B2B_STAFF_MFA = True
    TOTPDevice.objects.create(user=staff, name="never confirmed", confirmed=False)
    client.force_login(staff)  # a password-only session, however it was obtained
    for url in ["/admin/", "/admin/balances/balance/", "/admin/audit/auditevent/", "/admin/mfa/"]:
        response = client.get(url, HTTP_HOST="localhost")
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/"), url


def test_a_code_is_good_once(client, staff, settings):
    settings.B2B_STAFF_MFA = True
    device = TOTPDevice.objects.create(user=staff, name="phone", confirmed=True)
    token = code(device)
    assert post_login(client, username="alice", password="pw-alice-2026", otp_token=token).status_code == 302
    client.logout()
    assert post_login(client, username="alice", password="pw-alice-2026", otp_token=token).status_code == 200


def test_a_superuser_enrols_a_colleague_and_sees_the_qr_code_and_uri_once(client, staff, settings, django_user_model):
    settings.B2B_STAFF_MFA = False
    bob = django_user_model.objects.create_user("bob", password="pw-bob-2026", is_staff=True)
    client.force_login(staff)
    overview = client.get("/admin/mfa/", HTTP_HOST="localhost").content.decode()
    assert "bob" in overview and "none" in overview
    assert client.get(f"/admin/mfa/{bob.pk}/", HTTP_HOST="localhost").status_code == 405  # POST only
    page = client.post(f"/admin/mfa/{bob.pk}/", HTTP_HOST="localhost").content.decode()
    assert "data:image/svg+xml" in page and "otpauth://totp/" in page
    assert TOTPDevice.objects.get(user=bob).confirmed
    event = AuditEvent.objects.get(action="mfa_enrolled")
    assert (event.actor, event.target) == ("alice", "user:bob")
    client.force_login(bob)  # not a superuser: may not enrol anybody
    assert client.post(f"/admin/mfa/{staff.pk}/", HTTP_HOST="localhost").status_code == 403


def test_the_secret_key_rotates_with_fallbacks(settings):
    from django.core import signing

    settings.SECRET_KEY = "old-key-" + "x" * 40
    signed = signing.dumps({"session": 1})
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-key-" + "y" * 40, ["old-key-" + "x" * 40]
    assert signing.loads(signed) == {"session": 1}
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(signing.BadSignature):
        signing.loads(signed)


def test_the_fallback_keys_come_from_the_environment(monkeypatch):
    import importlib

    import b2b_server.settings

    monkeypatch.setenv("DJANGO_SECRET_KEY_FALLBACKS", "older-key-1, older-key-2")
    assert importlib.reload(b2b_server.settings).SECRET_KEY_FALLBACKS == ["older-key-1", "older-key-2"]
    monkeypatch.delenv("DJANGO_SECRET_KEY_FALLBACKS")
    importlib.reload(b2b_server.settings)
