"""Customers through the API: create, read, edit the profile, block and unblock, list."""

from __future__ import annotations

import datetime as dt

from drf_spectacular.utils import extend_schema

from b2b_server.errors import InvalidRequest
from customers.models import Customer
from customers.selectors import customer_get, customer_profile
from customers.services import EDITABLE_FIELDS, customer_update
from integrations import roles
from integrations.api import schema
from integrations.api.base import BackofficeApi, body, ok, page, query_bool, query_time, string
from quadcode.services import customer_block_propagated, customer_register

PROFILE_FIELDS = ("first_name", "middle_name", "last_name", "phone_number", "account_timezone")


def _date(value, name: str = "date_of_birth") -> dt.date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a date such as 1990-01-31.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a date such as 1990-01-31.") from None


def customer_summary(customer: Customer) -> dict:
    return {"customer_id": customer.customer_id, "country_code": customer.country_code,
            "blocked": customer.is_blocked, "erased": customer.erased_at is not None,
            "created_at": customer.created_at.isoformat()}


def customer_detail(customer: Customer) -> dict:
    profile = customer_profile(customer=customer)
    personal = {name: getattr(profile, name) for name in ("email", *PROFILE_FIELDS)}
    personal["date_of_birth"] = profile.date_of_birth.isoformat() if profile.date_of_birth else ""
    return {**customer_summary(customer), **personal}


class CustomerListApi(BackofficeApi):
    needs = {"GET": roles.READ, "POST": roles.CUSTOMERS_WRITE}

    @extend_schema(operation_id="customers_list", summary="List customers (cursor-paginated).",
                   parameters=schema.CUSTOMER_FILTERS, responses=schema.responses(200, schema.CustomerPage))
    def get(self, request, caller):
        customers = Customer.objects.all()
        blocked = query_bool(request, "blocked")
        if blocked is not None:
            customers = customers.filter(is_blocked=blocked)
        if request.GET.get("country_code"):
            customers = customers.filter(country_code=request.GET["country_code"].upper()[:2])
        since, until = query_time(request, "created_from"), query_time(request, "created_to")
        if since:
            customers = customers.filter(created_at__gte=since)
        if until:
            customers = customers.filter(created_at__lt=until)
        return ok(page(request, customers, customer_summary))

    @extend_schema(operation_id="customers_create", summary="Create a customer (as create_customer does).",
                   request=schema.CustomerCreate, responses=schema.responses(201, schema.Customer, 409))
    def post(self, request, caller):
        data = body(request)
        fields = {name: string(data, name, required=False, max_length=200) for name in PROFILE_FIELDS}
        customer = customer_register(
            customer_id=string(data, "customer_id", max_length=64), email=string(data, "email", max_length=254),
            country_code=string(data, "country_code", max_length=2), date_of_birth=_date(data.get("date_of_birth")),
            signup_ip=string(data, "signup_ip", required=False, max_length=45) or None, **fields)
        return ok(customer_detail(customer), status=201)


class CustomerDetailApi(BackofficeApi):
    needs = {"GET": roles.READ, "PATCH": roles.CUSTOMERS_WRITE}

    @extend_schema(operation_id="customers_read", summary="A customer and their profile.",
                   responses=schema.responses(200, schema.Customer, 404))
    def get(self, request, caller, customer_id: str):
        return ok(customer_detail(customer_get(customer_id=customer_id)))

    @extend_schema(operation_id="customers_update", summary="Change profile fields (the audit trail keeps the "
                   "before and after, sealed).", request=schema.CustomerUpdate,
                   responses=schema.responses(200, schema.Customer, 404, 410))
    def patch(self, request, caller, customer_id: str):
        data = body(request)
        unknown = set(data) - set(EDITABLE_FIELDS)
        if unknown:
            raise InvalidRequest(f"These fields cannot be changed: {', '.join(sorted(unknown))}.")
        changes = {name: (_date(value) if name == "date_of_birth" else string(data, name, max_length=254))
                   for name, value in data.items()}
        customer_get(customer_id=customer_id)
        return ok(customer_detail(customer_update(customer_id=customer_id, actor=caller.actor, changes=changes)))


class CustomerBlockApi(BackofficeApi):
    needs = {"POST": roles.CUSTOMERS_WRITE}
    blocked = True

    @extend_schema(operation_id="customers_block", summary="Block (or, at /unblock, unblock) a customer; "
                   "a repeat changes nothing.", request=schema.Reason,
                   responses=schema.responses(200, schema.Customer, 404))
    def post(self, request, caller, customer_id: str):
        reason = string(body(request), "reason").strip()
        if not reason:
            raise InvalidRequest("A reason is required.")
        customer_get(customer_id=customer_id)
        result = customer_block_propagated(customer_id=customer_id, actor=caller.actor, blocked=self.blocked,
                                           reason=reason)
        return ok({**customer_summary(result.customer), "changed": result.changed})


class CustomerUnblockApi(CustomerBlockApi):
    blocked = False
