"""The staff's admin: customers (block, unblock, profile edits, erasure — each in the audit
trail), balances (a request to move money, carrying a one-time key), and the queue of requests
waiting for a second person. Registered here, above the apps whose services it combines, so that
no app replaces another's admin classes."""

from backoffice.admin import balances, customers, requests  # noqa: F401  (each registers its models)
