"""The "token" rule: ES256 tokens, as the contract's README says ("Server to server requests
authorization": ES256; iss "qc" for Quadcode; aud = the environment; iat; exp within 10 minutes
of issue)."""

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.conftest import body, ids, ledger_snapshot


@pytest.fixture
def balance(make_balance):
    return make_balance("50.00")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict, claims: dict, signature: bytes = b"sig") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def test_a_valid_token_reads_the_balance(quadcode, balance):
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id)
    assert response.status_code == 200
    assert response.json()["amount"] == "50.00"


def test_a_token_signed_with_the_second_configured_key_is_accepted(quadcode, mint, balance):
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id, token=mint(key="rotated"))
    assert response.status_code == 200


def now() -> int:
    return int(time.time())


BAD_TOKENS = {
    "signed by an unknown key": lambda mint: mint(key="stranger"),
    "wrong issuer": lambda mint: mint(iss="quadcode"),
    "issuer differs in case": lambda mint: mint(iss="QC"),
    "issuer as a list": lambda mint: mint(iss=["qc"]),
    "production audience in the sandbox": lambda mint: mint(aud="production"),
    "audience as a list": lambda mint: mint(aud=["sandbox"]),
    "no iss": lambda mint: mint(drop=["iss"]),
    "no aud": lambda mint: mint(drop=["aud"]),
    "no iat": lambda mint: mint(drop=["iat"]),
    "no exp": lambda mint: mint(drop=["exp"]),
    "lifetime over 600 s": lambda mint: mint(iat=now(), exp=now() + 601),
    "expired": lambda mint: mint(iat=now() - 400, exp=now() - 100),
    "issued in the future beyond leeway": lambda mint: mint(iat=now() + 120, exp=now() + 300),
    "exp before iat": lambda mint: mint(iat=now(), exp=now() - 1),
    "iat as a string": lambda mint: mint(iat=str(now()), exp=now() + 60),
    "exp as a string": lambda mint: mint(exp=str(now() + 60)),
    "iat as a boolean": lambda mint: mint(iat=True),
    "not yet valid (nbf)": lambda mint: mint(nbf=now() + 200),
    "ES384 signature": lambda mint: jwt.encode({"iss": "qc", "aud": "sandbox", "iat": now(), "exp": now() + 60},
                                               ec.generate_private_key(ec.SECP384R1()), algorithm="ES384"),
    "alg none": lambda mint: _forge({"alg": "none", "typ": "JWT"},
                                    {"iss": "qc", "aud": "sandbox", "iat": now(), "exp": now() + 60}, b""),
    "garbage": lambda mint: "not-a-token",
    "two segments": lambda mint: "a.b",
    "four segments": lambda mint: "a.b.c.d",
    "bad base64": lambda mint: "!!!.???.***",
    "header not JSON": lambda mint: ".".join([_b64(b"nope"), _b64(b"{}"), _b64(b"x")]),
    "header a JSON list": lambda mint: ".".join([_b64(b"[1]"), _b64(b"{}"), _b64(b"x")]),
    "payload a JSON list": lambda mint: _forge({"alg": "ES256"}, [1, 2]),
    "huge token": lambda mint: "a" * 5000 + ".b.c",
    "non-ASCII token": lambda mint: "é.é.é",
    "empty signature": lambda mint: mint().rsplit(".", 1)[0] + ".",
    "tampered claims": lambda mint: ".".join([mint().split(".")[0],
                                              _b64(json.dumps({"iss": "qc", "aud": "sandbox", "iat": now(),
                                                               "exp": now() + 60, "x": 1}).encode()),
                                              mint().split(".")[2]]),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_every_bad_token_is_401_with_www_authenticate_and_changes_nothing(quadcode, mint, balance, case):
    token = BAD_TOKENS[case](mint)
    before = ledger_snapshot()
    response = quadcode.debit(balance.customer.customer_id, balance.balance_id, body(), token=token)
    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "unauthorized"
    assert set(response.json()) == {"error", "message"}
    assert ledger_snapshot() == before


def test_hs256_signed_with_the_public_key_as_secret_is_refused(quadcode, key_dir, balance):
    # The classic algorithm-confusion attack: HMAC keyed with the (public) verification key.
    public_pem = (key_dir / "quadcode-public.pem").read_bytes()
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps({"iss": "qc", "aud": "sandbox", "iat": now(), "exp": now() + 60}).encode())
    import hashlib
    import hmac
    signature = _b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    response = quadcode.get_balance(*ids(balance), token=f"{header}.{payload}.{signature}")
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer"])
def test_missing_or_non_bearer_authorization_is_401(quadcode, balance, authorization):
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id, token=False,
                                   HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_no_authorization_header_at_all_is_401(quadcode, balance):
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id, token=False)
    assert response.status_code == 401


def test_leeway_tolerates_a_clock_30_seconds_ahead(quadcode, mint, balance):
    response = quadcode.get_balance(balance.customer.customer_id, balance.balance_id,
                                   token=mint(iat=now() + 20, exp=now() + 300))
    assert response.status_code == 200


def test_production_tokens_pass_only_in_production(quadcode, mint, balance, settings):
    settings.B2B_ENVIRONMENT = "production"
    path_ids = ids(balance)
    assert quadcode.get_balance(*path_ids, token=mint(aud="production")).status_code == 200
    assert quadcode.get_balance(*path_ids, token=mint(aud="sandbox")).status_code == 401


def test_a_custom_issuer_is_matched_exactly(quadcode, mint, balance, settings):
    settings.QUADCODE_JWT_ISSUER = "qc-eu"
    path_ids = ids(balance)
    assert quadcode.get_balance(*path_ids, token=mint(iss="qc-eu")).status_code == 200
    assert quadcode.get_balance(*path_ids, token=mint(iss="qc")).status_code == 401


def test_no_configured_key_refuses_every_token(quadcode, balance, settings):
    settings.QUADCODE_PUBLIC_KEY_FILES = []
    assert quadcode.get_balance(balance.customer.customer_id, balance.balance_id).status_code == 401


def test_a_removed_key_stops_verifying(quadcode, mint, balance, settings, key_dir):
    settings.QUADCODE_PUBLIC_KEY_FILES = [str(key_dir / "quadcode-public.pem")]
    assert quadcode.get_balance(balance.customer.customer_id, balance.balance_id,
                               token=mint(key="rotated")).status_code == 401


def test_a_token_verified_once_still_expires_on_time(quadcode, mint, balance, monkeypatch):
    # Verification results are cached per token; the clock checks are not.
    token = mint(iat=now(), exp=now() + 60)
    path_ids = ids(balance)
    assert quadcode.get_balance(*path_ids, token=token).status_code == 200
    import balances.auth
    later = now() + 120
    monkeypatch.setattr(balances.auth.time, "time", lambda: later)
    response = quadcode.get_balance(*path_ids, token=token)
    assert response.status_code == 401
    assert "expired" in response.json()["message"]
