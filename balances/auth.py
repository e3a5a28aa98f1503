"""Rule 2 of the balance API: an ES256 JWT signed by Quadcode.

The contract (../shared/contract/README.md, "Server to server requests authorization"): ES256,
`iss` = `qc` for Quadcode's tokens, `aud` = the environment, `iat`, and `exp` within 10 minutes
of issue. Every failure, malformed tokens of every kind included, is a 401.
"""

from __future__ import annotations

import time
from functools import lru_cache
from numbers import Real

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from b2b_server.errors import Unauthenticated

_MAX_TOKEN_LENGTH = 4096
_REQUIRED_CLAIMS = ("iss", "aud", "iat", "exp")


def load_es256_public_key(path: str) -> ec.EllipticCurvePublicKey:
    try:
        with open(path, "rb") as handle:
            key = load_pem_public_key(handle.read())
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"QUADCODE_PUBLIC_KEY_FILES: cannot read a PEM public key from {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured(f"QUADCODE_PUBLIC_KEY_FILES: {path} is not a P-256 (ES256) public key.")
    return key


@lru_cache(maxsize=8)
def _public_keys(paths: tuple[str, ...]) -> tuple[ec.EllipticCurvePublicKey, ...]:
    return tuple(load_es256_public_key(path) for path in paths)


def quadcode_public_keys() -> tuple[ec.EllipticCurvePublicKey, ...]:
    """The configured keys, read once per list of files (a restart picks up rotated files)."""
    return _public_keys(tuple(settings.QUADCODE_PUBLIC_KEY_FILES))


def _is_number(value: object) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def verify_quadcode_token(authorization: str | None) -> dict:
    """The verified claims of the request's bearer token, or Unauthenticated."""
    if not authorization:
        raise Unauthenticated("An Authorization: Bearer token is required.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > _MAX_TOKEN_LENGTH or not token.isascii():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    keys = quadcode_public_keys()
    if not keys:
        raise Unauthenticated("No token can be verified: no Quadcode public key is configured.")
    claims = None
    for key in keys:
        try:
            claims = jwt.decode(
                token, key, algorithms=["ES256"],
                audience=settings.B2B_ENVIRONMENT, issuer=settings.QUADCODE_JWT_ISSUER,
                leeway=settings.B2B_JWT_LEEWAY,
                options={"require": list(_REQUIRED_CLAIMS), "strict_aud": True},
            )
            break
        except jwt.InvalidSignatureError:
            continue  # signed with another of the keys, or forged: try the next key
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"The token is not valid: {exc}.") from None
        except Exception:  # a malformed token must never become a 500
            raise Unauthenticated("The token is malformed.") from None
    if claims is None:
        raise Unauthenticated("The token signature does not verify.")
    iat, exp = claims["iat"], claims["exp"]
    if not (_is_number(iat) and _is_number(exp)):
        raise Unauthenticated("The token's iat and exp must be numeric dates.")
    if exp <= iat:
        raise Unauthenticated("The token expires before it is issued.")
    if exp - iat > settings.B2B_JWT_MAX_LIFETIME:
        raise Unauthenticated(f"The token's lifetime exceeds {settings.B2B_JWT_MAX_LIFETIME} seconds.")
    if iat > time.time() + settings.B2B_JWT_LEEWAY:
        raise Unauthenticated("The token is issued in the future.")
    return claims
