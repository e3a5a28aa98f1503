"""Personal data at rest: envelope encryption with a data key per customer (crypto-shredding).

- Every personal field of a customer is sealed with AES-256-GCM under the customer's own data
  key, bound to the customer and the field (associated data `customer_id:field`), so a sealed
  value cannot be moved to another customer or field unnoticed. Copies elsewhere (the outbox's
  payloads, the audit trail's before/after) are sealed under the same key.
- A data key is stored only wrapped (AES-256-GCM) by a master key from B2B_PII_KEYS: the first
  wraps new keys, every one unwraps (rotation: `pii_rotate` rewraps under the first).
- Erasure destroys the customer's wrapped data key: every copy of their personal data — rows,
  payloads, audit details, and the same rows in any backup — is then unreadable, while their
  balances, entries and sums stay whole.
- Exact-match lookups (by email) use a keyed hash (HMAC-SHA256 under a key derived from each
  master key), never the plaintext.
Nothing is cached: after an erasure no process can decrypt, not even for a moment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from b2b_server.errors import DomainError

_PREFIX = "v1:"
_NONCE = 12


class PersonalDataUnavailable(DomainError):
    # The customer was erased (their key is destroyed), or their key's master key is not configured.
    code, http_status = "personal_data_unavailable", 410
    default_message = "This customer's personal data is no longer available."


def master_id(key: bytes) -> str:
    """A master key's public name: 16 hex digits of its SHA-256."""
    return hashlib.sha256(key).hexdigest()[:16]


def _masters() -> list[bytes]:
    return settings.B2B_PII_KEYS


def current_master() -> tuple[str, bytes]:
    key = _masters()[0]
    return master_id(key), key


def _master(name: str) -> bytes:
    for key in _masters():
        if master_id(key) == name:
            return key
    raise PersonalDataUnavailable(f"The master key {name} is not among B2B_PII_KEYS.")


def _aad(*parts: str) -> bytes:
    return ":".join(parts).encode()


def data_key_new() -> tuple[str, str, bytes, bytes]:
    """(key_id, master name, wrapped key, the plain key) of a new data key."""
    key, key_id = AESGCM.generate_key(bit_length=256), str(uuid.uuid4())
    name, master = current_master()
    return key_id, name, wrap(master, key_id, key), key


def wrap(master: bytes, key_id: str, key: bytes) -> bytes:
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(master).encrypt(nonce, key, _aad("b2b-data-key", key_id))


def unwrap(*, master_name: str, key_id: str, wrapped: bytes | None) -> bytes:
    if wrapped is None:
        raise PersonalDataUnavailable()
    wrapped = bytes(wrapped)
    try:
        return AESGCM(_master(master_name)).decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _aad("b2b-data-key", key_id))
    except InvalidTag:
        raise PersonalDataUnavailable(f"The data key {key_id} does not open with its master key.") from None


def seal(key: bytes, customer_id: str, field: str, value: str) -> str:
    """A personal value, encrypted for storage ("" stays "": nothing to hide in nothing)."""
    if value == "":
        return ""
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), _aad(customer_id, field))
    return _PREFIX + base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, customer_id: str, field: str, token: str) -> str:
    if token == "":
        return ""
    if not token.startswith(_PREFIX):
        raise PersonalDataUnavailable(f"{field} of {customer_id} is not a sealed value.")
    raw = base64.b64decode(token[len(_PREFIX):])
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(customer_id, field)).decode()
    except InvalidTag:
        raise PersonalDataUnavailable(f"{field} of {customer_id} does not open with their key.") from None


def seal_json(key: bytes, customer_id: str, purpose: str, value) -> str:
    return seal(key, customer_id, purpose, json.dumps(value, sort_keys=True, separators=(",", ":")))


def unseal_json(key: bytes, customer_id: str, purpose: str, token: str):
    return json.loads(unseal(key, customer_id, purpose, token))


def _lookup_key(master: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"b2b-email-lookup").derive(master)


def email_hash(email: str, *, master: bytes | None = None) -> str:
    """The keyed hash an email is found by (under the first master key unless told otherwise)."""
    master = master or current_master()[1]
    return hmac.new(_lookup_key(master), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def email_hashes(email: str) -> list[str]:
    """The email's hash under every master key: a lookup finds a customer mid-rotation too."""
    return [email_hash(email, master=key) for key in _masters()]


def master_key_new() -> str:
    """A new master key, as B2B_PII_KEYS takes it (base64 of 32 random bytes)."""
    return base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()
