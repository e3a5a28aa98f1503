"""The "token" rule of the balance API: an ES256 JWT signed by Quadcode.

The contract's README ("Server to server requests authorization"; contract/README.md says
why it is not a machine-readable file): ES256,
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
        raise ImproperlyConfigured(f"QUADCODE_PUBLIC_KEY_FILES: cannot read a PEM public key from {path}: "
                                   f"{exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ImproperlyConfigured(f"QUADCODE_PUBLIC_KEY_FILES: {path} is not a P-256 (ES256) public key.")
    return key


@lru_cache(maxsize=8)
def quadcode_public_keys(paths: tuple[str, ...]) -> tuple[ec.EllipticCurvePublicKey, ...]:
    return tuple(load_es256_public_key(path) for path in paths)


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
    claims = _verified_claims(token, tuple(settings.QUADCODE_PUBLIC_KEY_FILES), settings.QUADCODE_JWT_ISSUER,
                              settings.B2B_ENVIRONMENT, settings.B2B_JWT_MAX_LIFETIME)
    # Time moves on: these checks run on every use, cached or not.
    now, leeway = time.time(), settings.B2B_JWT_LEEWAY
    if claims["exp"] <= now - leeway:
        raise Unauthenticated("The token has expired.")
    if claims["iat"] > now + leeway:
        raise Unauthenticated("The token is issued in the future.")
    if "nbf" in claims and claims["nbf"] > now + leeway:
        raise Unauthenticated("The token is not yet valid (nbf).")
    return claims


@lru_cache(maxsize=4096)
def _verified_claims(token: str, key_files: tuple[str, ...], issuer: str, audience: str, max_lifetime: int) -> dict:
    """Everything about a token that does not depend on the clock: signature, iss, aud, claims.

    Cached because a caller may reuse a token for its whole lifetime (up to ten minutes): the
    ES256 verification is then paid once per token, not once per request. Failures raise and
    are never cached.
    """
    keys = quadcode_public_keys(key_files)
    if not keys:
        raise Unauthenticated("No token can be verified: no Quadcode public key is configured.")
    options = {"require": list(_REQUIRED_CLAIMS), "strict_aud": True,
               "verify_exp": False, "verify_iat": False, "verify_nbf": False}
    claims = None
    for key in keys:
        try:
            claims = jwt.decode(token, key, algorithms=["ES256"], audience=audience, issuer=issuer, options=options)
            break
        except jwt.InvalidSignatureError:
            continue  # signed with another of the keys, or forged: try the next key
        except jwt.InvalidTokenError as exc:
            raise Unauthenticated(f"The token is not valid: {exc}.") from None
        except Exception:  # a malformed token must never become a 500
            raise Unauthenticated("The token is malformed.") from None
    if claims is None:
        raise Unauthenticated("The token signature does not verify.")
    iat, exp, nbf = claims["iat"], claims["exp"], claims.get("nbf", 0)
    if not (_is_number(iat) and _is_number(exp) and _is_number(nbf)):
        raise Unauthenticated("The token's iat, exp and nbf must be numeric dates.")
    if exp <= iat:
        raise Unauthenticated("The token expires before it is issued.")
    if exp - iat > max_lifetime:
        raise Unauthenticated(f"The token's lifetime exceeds {max_lifetime} seconds.")
    return claims
