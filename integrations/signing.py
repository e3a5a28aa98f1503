"""The one signing scheme both ways: callers sign their requests with it, and we sign the
webhooks we send, so a receiver checks us as we check them.

    X-Signature = lowercase hex HMAC-SHA256(secret as UTF-8,
                                            UTF-8(key_id + timestamp + nonce) + payload)

`timestamp` is Unix time in milliseconds (as a decimal string), `nonce` random and at least 16
characters, and `payload` the raw query string (without `?`) of a GET or DELETE, the raw body of
anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

NONCE_MIN_LENGTH = 16
NONCE_MAX_LENGTH = 128


def signature(*, secret: str, key_id: str, timestamp: str, nonce: str, payload: bytes) -> str:
    message = f"{key_id}{timestamp}{nonce}".encode() + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(*, secret: str, key_id: str, payload: bytes) -> dict[str, str]:
    """The four headers of a request (or a webhook) carrying `payload`, signed now."""
    timestamp, nonce = str(int(time.time() * 1000)), secrets.token_hex(16)
    return {"X-Api-Key": key_id, "X-Timestamp": timestamp, "X-Nonce": nonce,
            "X-Signature": signature(secret=secret, key_id=key_id, timestamp=timestamp, nonce=nonce, payload=payload)}


def signature_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
