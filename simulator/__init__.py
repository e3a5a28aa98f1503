"""A stand-in for Quadcode's B2B gateway and trading room, for development, the demo and tests.

It serves the gateway endpoints of contract/margin-draft/gateway-api.yaml (and checks the
required fields of what it receives against that file),
verifies the broker's ES256 tokens, keeps customers, and can be told which countries and
currencies are restricted, which customers are blocked, and when to fail or be slow. Its
session URLs serve a small trading room that reads the balance and opens and closes options by
calling the broker's balance API with Quadcode-style ES256 tokens, as the real platform would.
"""
