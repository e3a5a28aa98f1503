"""Balances through the API: open, read (amount, held, available), list per customer, and the
statement entries by time range."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from b2b_server.errors import InvalidRequest
from balances.errors import BalanceNotFound
from balances.models import Balance, LedgerEntry
from balances.money import format_amount
from balances.selectors import balance_held
from balances.services import balance_open
from customers.ids import is_external_id
from customers.selectors import customer_get
from integrations import roles
from integrations.api import schema
from integrations.api.base import BackofficeApi, body, ok, page, query_time, string


def balance_view(balance: Balance) -> dict:
    held = balance_held(balance=balance)
    currency = balance.currency
    return {"balance_id": balance.balance_id, "customer_id": balance.customer.customer_id, "currency_code": currency,
            "type": balance.type, "amount": format_amount(balance.amount + held, currency),
            "held": format_amount(held, currency), "available": format_amount(balance.amount, currency),
            "created_at": balance.created_at.isoformat()}


def entry_view(entry: LedgerEntry) -> dict:
    currency = entry.balance.currency
    return {"entry_id": entry.pk, "operation_id": entry.operation_id, "request_id": entry.operation.request_id,
            "kind": entry.kind, "amount": format_amount(entry.amount, currency),
            "realized_amount": format_amount(entry.realized_amount, currency),
            "balance_after": format_amount(entry.balance_after, currency), "currency_code": currency,
            "comment": entry.comment, "created_at": entry.created_at.isoformat()}


def balance_found(balance_id: str) -> Balance:
    balance = (Balance.objects.select_related("customer").filter(balance_id=balance_id).first()
               if is_external_id(balance_id) else None)
    if balance is None:
        raise BalanceNotFound(f"Balance {balance_id} is not found.")
    return balance


class BalanceOpenApi(BackofficeApi):
    needs = {"POST": roles.BALANCES_OPEN}

    @extend_schema(operation_id="balances_open", summary="Open a balance for a customer.",
                   request=schema.BalanceOpen, responses=schema.responses(201, schema.Balance, 404, 409))
    def post(self, request, caller):
        data = body(request)
        if "amount" in data:
            # Money arrives only as a request (four eyes, audit), never as an opening amount.
            raise InvalidRequest("A balance opens empty here; put money on it with POST /backoffice/v1/requests.")
        currency = string(data, "currency_code", max_length=3)
        balance = balance_open(customer_id=string(data, "customer_id", max_length=64),
                               balance_id=string(data, "balance_id", max_length=64), currency=currency,
                               type=string(data, "type", required=False, max_length=4) or "real")
        return ok(balance_view(balance_found(balance.balance_id)), status=201)


class BalanceDetailApi(BackofficeApi):
    needs = {"GET": roles.READ}

    @extend_schema(operation_id="balances_read", summary="A balance: amount (what the customer owns), held "
                   "(set aside for pending withdrawals) and available (what Quadcode sees).",
                   responses=schema.responses(200, schema.Balance, 404))
    def get(self, request, caller, balance_id: str):
        return ok(balance_view(balance_found(balance_id)))


class CustomerBalancesApi(BackofficeApi):
    needs = {"GET": roles.READ}

    @extend_schema(operation_id="balances_list", summary="A customer's balances (cursor-paginated).",
                   parameters=schema.PAGE, responses=schema.responses(200, schema.BalancePage, 404))
    def get(self, request, caller, customer_id: str):
        customer = customer_get(customer_id=customer_id)
        return ok(page(request, Balance.objects.select_related("customer").filter(customer=customer), balance_view))


class BalanceEntriesApi(BackofficeApi):
    needs = {"GET": roles.READ}

    @extend_schema(operation_id="balances_entries", summary="A balance's ledger entries, oldest first "
                   "(cursor-paginated; `from` inclusive, `to` exclusive).", parameters=schema.ENTRY_FILTERS,
                   responses=schema.responses(200, schema.EntryPage, 404))
    def get(self, request, caller, balance_id: str):
        balance = balance_found(balance_id)
        since, until = query_time(request, "from"), query_time(request, "to")
        if since and until and until <= since:
            raise InvalidRequest("to must be after from.")
        entries = LedgerEntry.objects.select_related("operation", "balance").filter(balance=balance)
        if since:
            entries = entries.filter(created_at__gte=since)
        if until:
            entries = entries.filter(created_at__lt=until)
        return ok(page(request, entries, entry_view))
