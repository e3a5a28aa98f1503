"""Customers in the admin with sealed personal data: shown opened for the page, found by exact
email (never by name), and erased through a confirmation page by staff holding
customers.erase_customer; afterwards "erased" stands where the personal fields were. Screenshots
land in artifacts/screenshots/."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from audit.models import AuditEvent
from balances.services import balance_open
from customers.selectors import customer_get, customer_profile
from customers.services import customer_create
from tests.backoffice.conftest import everything, staff_member
from tests.browser import SCREENSHOTS, needs_chromium

CHANGELIST = "/admin/customers/customer/"


@pytest.fixture
def people(db):
    zelda = customer_create(customer_id="adm-zq", email="zelda.quark@example.org", country_code="DE",
                            first_name="Zelda", last_name="Quarkwood", phone_number="+49 151 7654321")
    rich = customer_create(customer_id="adm-rich", email="rich@example.org", country_code="FR", first_name="Rich")
    balance_open(customer_id="adm-zq", balance_id="adm-zq_USD", currency="USD")
    balance_open(customer_id="adm-rich", balance_id="adm-rich_USD", currency="USD", amount=Decimal("10.00"))
    return zelda, rich


def staff(client, django_user_model, *permissions):
    user = staff_member(django_user_model, "support", "customers.view_customer", "customers.change_customer",
                        *permissions)
    client.force_login(user)
    return client


def get(client, url, **params) -> str:
    response = client.get(url, params, HTTP_HOST="localhost")
    assert response.status_code == 200, url
    return response.content.decode()


def erase(client, *customers, **extra):
    data = {"action": "erase", ACTION_CHECKBOX_NAME: [c.pk for c in customers], **extra}
    return client.post(CHANGELIST, data, HTTP_HOST="localhost")


def test_the_list_and_the_page_show_the_profile_opened(client, django_user_model, people):
    zelda, _ = people
    staff(client, django_user_model)
    assert "zelda.quark@example.org" in get(client, CHANGELIST)
    page = get(client, f"{CHANGELIST}{zelda.pk}/change/")
    assert 'value="Quarkwood"' in page and 'value="+49 151 7654321"' in page


def test_search_finds_an_exact_email_by_its_hash_and_names_not_at_all(client, django_user_model, people):
    staff(client, django_user_model)
    assert "adm-zq" in get(client, CHANGELIST, q="Zelda.Quark@example.org")
    assert "adm-rich" not in get(client, CHANGELIST, q="Zelda.Quark@example.org")
    assert "adm-zq" not in get(client, CHANGELIST, q="zelda")  # names are sealed: no search through them
    assert "adm-zq" in get(client, CHANGELIST, q="adm-zq")


def test_without_the_permission_there_is_no_erase_action(client, django_user_model, people):
    zelda, _ = people
    staff(client, django_user_model)
    assert 'value="erase"' not in get(client, CHANGELIST)
    snapshot = everything()
    erase(client, zelda, confirmed="yes", erase_reason="x")
    assert everything() == snapshot and customer_get(customer_id="adm-zq").erased_at is None


def test_the_confirmation_page_says_who_cannot_be_erased_and_why(client, django_user_model, people):
    zelda, rich = people
    staff(client, django_user_model, "customers.erase_customer")
    snapshot = everything()
    page = erase(client, zelda, rich).content.decode()
    assert "It cannot be undone" in page
    assert "no: balance adm-rich_USD holds 10.00 USD" in page
    assert everything() == snapshot  # a confirmation page changes nothing
    assert erase(client, zelda, confirmed="yes", erase_reason="").status_code == 200  # no reason: asked again
    assert customer_get(customer_id="adm-zq").erased_at is None


def test_erasing_from_the_admin_then_erased_where_the_fields_were(client, django_user_model, people):
    zelda, rich = people
    staff(client, django_user_model, "customers.erase_customer")
    response = erase(client, zelda, rich, confirmed="yes", erase_reason="asked by email, ticket 4411")
    assert response.status_code == 302
    messages = get(client, CHANGELIST)
    assert "Customer adm-zq: personal data erased" in messages and "holds 10.00 USD" in messages
    assert customer_profile(customer=customer_get(customer_id="adm-zq")).erased
    assert customer_get(customer_id="adm-rich").erased_at is None
    page = get(client, f"{CHANGELIST}{zelda.pk}/change/")
    assert "Quarkwood" not in page and "zelda.quark" not in page
    assert page.count(">erased<") >= 7  # email, three names, phone, timezone, date of birth (and the address)
    [event] = AuditEvent.objects.filter(action="customer_erased")
    assert (event.actor, event.details["reason"]) == ("support", "asked by email, ticket 4411")
    # Clicked twice (a resubmitted page): nothing more happens.
    erase(client, zelda, confirmed="yes", erase_reason="asked by email, ticket 4411")
    assert AuditEvent.objects.filter(action="customer_erased").count() == 1


@needs_chromium
@pytest.mark.django_db(transaction=True)
def test_the_erasure_pages_in_a_browser(page, live_server, django_user_model, people):
    zelda, rich = people
    user = staff_member(django_user_model, "support", "customers.view_customer", "customers.change_customer",
                        "customers.erase_customer")
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("support")
    page.get_by_label("Password").fill("pw-support-2026")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}{CHANGELIST}")
    page.locator(f"input[name='{ACTION_CHECKBOX_NAME}'][value='{zelda.pk}']").check()
    page.locator(f"input[name='{ACTION_CHECKBOX_NAME}'][value='{rich.pk}']").check()
    page.locator("select[name='action']").select_option("erase")
    page.get_by_role("button", name="Go").click()
    page.get_by_label("Reason (kept in the audit trail):").fill("asked by email, ticket 4411")
    page.screenshot(path=SCREENSHOTS / "admin-erase-confirmation.png", full_page=True)
    page.get_by_role("button", name="Erase").click()
    page.locator(".messagelist").wait_for()
    page.goto(f"{live_server.url}{CHANGELIST}{zelda.pk}/change/")
    page.screenshot(path=SCREENSHOTS / "admin-customer-erased.png", full_page=True)
    assert page.locator("text=erased").count() >= 7
    assert customer_get(customer_id="adm-zq").erased_at is not None and user.is_staff
