from decimal import Decimal, InvalidOperation

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework.decorators import api_view
from rest_framework.response import Response

from naive.models import Balance, Entry


def _authorized(request) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return False
    try:
        jwt.decode(header[7:], settings.PUBLIC_KEY, algorithms=["ES256"], audience=settings.AUDIENCE,
                   issuer=settings.ISSUER)
    except jwt.PyJWTError:
        return False
    return True


def _answer(entry: Entry, balance: Balance) -> dict:
    return {"operation_id": entry.pk, "customer_id": balance.customer_id, "balance_id": balance.balance_id,
            "amount": str(entry.amount), "balance_current_amount": str(entry.balance_after),
            "currency_code": balance.currency}


@api_view(["GET"])
def balance(request, customer_id, balance_id):
    if not _authorized(request):
        return Response({"error": "unauthorized"}, status=401)
    found = Balance.objects.filter(customer_id=customer_id, balance_id=balance_id).first()
    if found is None:
        return Response({"error": "not_found"}, status=404)
    return Response({"customer_id": customer_id, "balance_id": balance_id, "amount": str(found.amount),
                     "currency_code": found.currency})


def _move(request, customer_id, balance_id, kind):
    if not _authorized(request):
        return Response({"error": "unauthorized"}, status=401)
    data = request.data
    try:
        amount = Decimal(data["amount"])
        request_id = str(data["request_id"])
    except (KeyError, InvalidOperation, TypeError):
        return Response({"error": "invalid_request"}, status=400)
    try:
        with transaction.atomic():
            found = Balance.objects.select_for_update().filter(customer_id=customer_id, balance_id=balance_id).first()
            if found is None:
                return Response({"error": "not_found"}, status=404)
            existing = Entry.objects.filter(request_id=request_id).first()
            if existing is not None:
                return Response(_answer(existing, found), status=201)
            if kind == "debit" and found.amount < amount:
                return Response({"error": "insufficient_funds"}, status=402)
            found.amount = found.amount - amount if kind == "debit" else found.amount + amount
            found.save(update_fields=["amount"])
            entry = Entry.objects.create(balance=found, request_id=request_id, kind=kind, amount=amount,
                                         balance_after=found.amount)
    except IntegrityError:
        return Response({"error": "request_id_conflict"}, status=409)
    return Response(_answer(entry, found), status=201)


@api_view(["POST"])
def debit(request, customer_id, balance_id):
    return _move(request, customer_id, balance_id, "debit")


@api_view(["POST"])
def credit(request, customer_id, balance_id):
    return _move(request, customer_id, balance_id, "credit")
