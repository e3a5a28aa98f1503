"""Feed tokens: short-lived HS256 JWTs under a key derived from SECRET_KEY (never the signing key
of anything else), naming who may watch: `customer` (their own events) or `api` (a back-office key)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.utils.crypto import salted_hmac

KINDS = ("customer", "api")
ISSUER = "b2b-feed"
_SALT = "integrations.feed.tokens"


class TokenRefused(Exception):
    """Not a token of ours, expired, or tampered with."""


class TokenTypeInvalid(Exception):
    """No `Bearer` prefix, or a token of a type the feed does not know."""


@dataclass(frozen=True)
class Viewer:
    kind: str  # one of KINDS
    subject: str  # the customer's id, or the key's id


@dataclass(frozen=True)
class Minted:
    token: str
    expires_in: int  # seconds


def _keys() -> list[bytes]:
    # SECRET_KEY_FALLBACKS keep tokens minted just before a key rotation valid for their minute.
    return [salted_hmac(_SALT, "feed-token", secret=secret, algorithm="sha256").digest()
            for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def feed_token_mint(*, kind: str, subject: str) -> Minted:
    if kind not in KINDS:
        raise ValueError(f"unknown feed token kind {kind!r}")
    ttl = settings.B2B_FEED_TOKEN_TTL
    now = int(time.time())
    claims = {"iss": ISSUER, "typ": kind, "sub": subject, "iat": now, "exp": now + ttl, "jti": uuid.uuid4().hex}
    return Minted(token=jwt.encode(claims, _keys()[0], algorithm="HS256"), expires_in=ttl)


def feed_token_read(value: object) -> Viewer:
    """`Bearer <token>` as the first message's `jwt` carries it → who may watch."""
    if not isinstance(value, str) or not value.startswith("Bearer ") or not value[7:].strip():
        raise TokenTypeInvalid()
    token = value[7:].strip()
    for key in _keys():
        try:
            claims = jwt.decode(token, key, algorithms=["HS256"], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "typ", "iss"]})
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as exc:
            raise TokenRefused() from exc
    else:
        raise TokenRefused()
    if claims["typ"] not in KINDS:
        raise TokenTypeInvalid()
    if not isinstance(claims["sub"], str) or not claims["sub"]:
        raise TokenRefused()
    return Viewer(kind=claims["typ"], subject=claims["sub"])
