"""API keys: made with their secret shown once, stored only wrapped, revoked for good; and
rewrapped under the first master key (with the customers' data keys, by `pii_rotate`)."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.models import Action
from audit.services import audit_record
from b2b_server.errors import InvalidRequest
from customers import pii
from integrations.errors import ApiKeyNotFound
from integrations.models import ApiKey

KEY_PREFIX = "bk_"


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str  # shown once, to whoever made the key; never stored in the clear


def _networks(allowed_ips: list[str]) -> list[str]:
    nets = []
    for entry in allowed_ips:
        try:
            nets.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError:
            raise InvalidRequest(f"{entry!r} is not an IP address or CIDR block.") from None
    return nets


def _webhook(url: str) -> str:
    url = (url or "").strip()
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise InvalidRequest(f"{url!r} is not an http(s) URL.") from None
    return url


def _wrapped(key_id: str, secret: str) -> tuple[str, bytes]:
    name, master = pii.current_master()
    return name, pii.wrap(master, key_id, secret.encode())


def api_key_secret(key: ApiKey) -> str:
    return pii.unwrap(master_name=key.master, key_id=key.key_id, wrapped=key.secret_wrapped).decode()


@transaction.atomic
def api_key_create(*, name: str, role: str, actor: Actor, allowed_ips: list[str] = (), webhook_url: str = "",
                   webhook_from: int | None = None) -> CreatedKey:
    """A new key. Its webhook (if any) starts after the events already numbered, unless
    `webhook_from` names the last sequence it should count as delivered."""
    from events.selectors import event_last_sequence

    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidRequest("A key needs a name of 1-100 characters.")
    if role not in ApiKey.Role.values:
        raise InvalidRequest(f"role must be one of {', '.join(ApiKey.Role.values)}.")
    key_id = KEY_PREFIX + secrets.token_hex(10)
    secret = secrets.token_urlsafe(32)
    master, wrapped = _wrapped(key_id, secret)
    webhook_url = _webhook(webhook_url)
    key = ApiKey.objects.create(
        key_id=key_id, name=name, role=role, allowed_ips=_networks(list(allowed_ips)), master=master,
        secret_wrapped=wrapped, created_by=actor.label, webhook_url=webhook_url,
        webhook_delivered=webhook_from if webhook_from is not None else event_last_sequence())
    audit_record(actor=actor, action=Action.API_KEY_CREATED, target=f"api_key:{key_id}",
                 details={"name": name, "role": role, "allowed_ips": key.allowed_ips, "webhook_url": webhook_url})
    return CreatedKey(key=key, secret=secret)


@transaction.atomic
def api_key_revoke(*, key_id: str, actor: Actor) -> bool:
    """Revoke a key at once (every process checks on each request); True if it was live."""
    key = ApiKey.objects.select_for_update().filter(key_id=key_id).first()
    if key is None:
        raise ApiKeyNotFound(f"There is no API key {key_id}.")
    if key.revoked_at is not None:
        return False
    key.revoked_at = timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(actor=actor, action=Action.API_KEY_REVOKED, target=f"api_key:{key_id}", details={"name": key.name})
    return True


def api_keys_rewrap(*, batch: int = 500) -> int:
    """Rewrap the secrets another master key wraps under the first one; returns how many."""
    name, master = pii.current_master()
    done = 0
    with transaction.atomic():
        for key in ApiKey.objects.select_for_update(skip_locked=True).exclude(master=name).order_by("pk")[:batch]:
            secret = api_key_secret(key)
            ApiKey.objects.filter(pk=key.pk).update(master=name, secret_wrapped=pii.wrap(master, key.key_id,
                                                                                         secret.encode()))
            done += 1
    return done
