"""Settings, all read from the environment (see README, "Configuration").

Missing optional values fall back to the safe choice: DEBUG off, nobody on the IP allowlist,
no trusted proxies, no accepted token keys. A missing secret outside the sandbox stops the
server at start with a message naming the variable.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from b2b_server import database_url
from b2b_server.env import (
    env_bool,
    env_duration,
    env_float,
    env_int,
    env_keys,
    env_list,
    env_networks,
    env_rate,
    env_str,
    env_thresholds,
)

BASE_DIR = Path(__file__).resolve().parent.parent


# --- the Quadcode contract -------------------------------------------------------------------
B2B_ENVIRONMENTS = ("production", "integration", "sandbox")
# `aud` of every token. Unset means sandbox: production tokens are then refused, loudly.
B2B_ENVIRONMENT = env_str("B2B_ENVIRONMENT", "sandbox")
if B2B_ENVIRONMENT not in B2B_ENVIRONMENTS:
    raise ImproperlyConfigured(f"B2B_ENVIRONMENT must be one of {', '.join(B2B_ENVIRONMENTS)}, "
                               f"not {B2B_ENVIRONMENT!r}.")
QUADCODE_JWT_ISSUER = env_str("QUADCODE_JWT_ISSUER", "qc")
# PEM files of Quadcode's ES256 public keys; any of them verifies (rotation).
QUADCODE_PUBLIC_KEY_FILES = env_list("QUADCODE_PUBLIC_KEY_FILES")
# Who may call the balance API (IPs and CIDRs), and which direct peers are our own proxies.
B2B_ALLOWED_IPS = env_networks("B2B_ALLOWED_IPS")
B2B_TRUSTED_PROXIES = env_networks("B2B_TRUSTED_PROXIES")
# Bounds of the token checks the contract implies ("within 10 minutes").
B2B_JWT_MAX_LIFETIME = 600
B2B_JWT_LEEWAY = 30
# Who may read /metrics.
B2B_METRICS_ALLOWED_IPS = env_networks("B2B_METRICS_ALLOWED_IPS", "127.0.0.1,::1")
# Largest request body the balance API reads.
B2B_MAX_BODY_BYTES = 8 * 1024

# --- the gateway we call (quadcode) -----------------------------------------------------------
QUADCODE_API_URL = env_str("QUADCODE_API_URL").rstrip("/")
# Our ES256 key for calls to the gateway, and the issuer Quadcode gave us.
B2B_PRIVATE_KEY_FILE = env_str("B2B_PRIVATE_KEY_FILE")
B2B_JWT_ISSUER = env_str("B2B_JWT_ISSUER")
B2B_TOKEN_LIFETIME = 300
QUADCODE_CONNECT_TIMEOUT = env_float("QUADCODE_CONNECT_TIMEOUT", 3.0, positive=True)
QUADCODE_TIMEOUT = env_float("QUADCODE_TIMEOUT", 10.0, positive=True)
# A request header set by a geolocating CDN (e.g. CF-IPCountry); else the profile's country.
B2B_COUNTRY_HEADER = env_str("B2B_COUNTRY_HEADER")
# The site/mirror domain sent with sessions; else the request's host.
B2B_SITE_DOMAIN = env_str("B2B_SITE_DOMAIN")
# Push a balance's state to the gateway after every admin adjustment (margin draft; off by default).
QUADCODE_BALANCE_PUSH = env_bool("QUADCODE_BALANCE_PUSH", False)
# The stored allowed-countries list is trusted for this long (seconds) after its refresh.
B2B_ALLOWED_COUNTRIES_MAX_AGE = env_int("B2B_ALLOWED_COUNTRIES_MAX_AGE", 24 * 3600)
# Balance API calls per customer (all of Quadcode's calls for one customer_id, every web process
# together). Generous: a busy trader causes a few calls a second; this catches a runaway loop.
# Empty: no limit. Rates are written "<count>/<second|minute|hour|day>" here and below (or "10/m",
# "100/5m"); a bad one stops the server at start.
B2B_API_RATE_PER_CUSTOMER = env_rate("B2B_API_RATE_PER_CUSTOMER", "1200/minute", allow_empty=True)
# Rates of the trading-room page (django-ratelimit).
B2B_TRADEROOM_RATE_PER_USER = env_rate("B2B_TRADEROOM_RATE_PER_USER", "20/minute")
B2B_TRADEROOM_RATE_PER_IP = env_rate("B2B_TRADEROOM_RATE_PER_IP", "60/minute")
# Login attempts (POSTs), per client IP and per username.
B2B_LOGIN_RATE = env_rate("B2B_LOGIN_RATE", "10/minute")

# --- personal data (customers.pii) ----------------------------------------------------------------
# Master keys wrapping each customer's data key: the first wraps, all unwrap. Required outside the
# sandbox; only `manage.py pii_keygen` (which makes one) runs without them.
_PII_KEYGEN = len(sys.argv) > 1 and sys.argv[1] == "pii_keygen" and sys.argv[0].endswith("manage.py")
B2B_PII_KEYS = [] if _PII_KEYGEN else env_keys(
    "B2B_PII_KEYS", required=True,
    # The sandbox's fixed key: personal data in the sandbox is no secret.
    default="" if B2B_ENVIRONMENT != "sandbox" else "c2FuZGJveC1vbmx5LXBpaS1rZXktMzItYnl0ZXMhISE=")
# How long delivered gateway calls keep their personal payload, and customers their sign-up address.
B2B_OUTBOX_RETENTION_DAYS = env_int("B2B_OUTBOX_RETENTION_DAYS", 30, minimum=1)
B2B_IP_RETENTION_DAYS = env_int("B2B_IP_RETENTION_DAYS", 180, minimum=1)

# --- the event log and its live feed (integrations) -------------------------------------------
# Where pages open the feed's WebSocket: empty, this host's /ws/events (a proxy sends /ws/ to
# bin/serve-feed); else a ws:// or wss:// URL (the demo: the feed's own port).
B2B_FEED_URL = env_str("B2B_FEED_URL")
if B2B_FEED_URL and not re.fullmatch(r"wss?://[^\s/]+/\S*", B2B_FEED_URL):
    raise ImproperlyConfigured(f"B2B_FEED_URL must be a ws:// or wss:// URL, not {B2B_FEED_URL!r}.")
# Feed tokens live this long (they are only needed to open a connection).
B2B_FEED_TOKEN_TTL = env_int("B2B_FEED_TOKEN_TTL", 60, minimum=5)
# A connection that has not authenticated within this many seconds is closed.
B2B_FEED_AUTH_TIMEOUT = env_float("B2B_FEED_AUTH_TIMEOUT", 10.0, positive=True)
# How often a feed process looks for new events when no NOTIFY woke it (seconds).
B2B_FEED_POLL = env_float("B2B_FEED_POLL", 0.5, positive=True)

# --- the signed back-office API (/backoffice/v1/) and webhooks -------------------------------
# A request's X-Timestamp may be this many seconds from our clock (either way); its nonce is
# remembered for twice as long (Redis, shared by every process).
B2B_HMAC_WINDOW = env_float("B2B_HMAC_WINDOW", 30.0, positive=True)
# Calls per API key (all processes together); empty: no limit.
B2B_API_KEY_RATE = env_rate("B2B_API_KEY_RATE", "600/minute", allow_empty=True)
# Webhooks: a receiver has this long to answer 2xx; each POST carries at most this many events.
B2B_WEBHOOK_TIMEOUT = env_float("B2B_WEBHOOK_TIMEOUT", 5.0, positive=True)
B2B_WEBHOOK_BATCH = env_int("B2B_WEBHOOK_BATCH", 100, minimum=1)
# Besides the customers' data keys, what else `pii_rotate` rewraps under the first master key.
B2B_PII_REWRAPPERS = ["integrations.services.api_keys_rewrap"]

# --- money that staff move (backoffice) --------------------------------------------------------
# Every withdrawal, and any other adjustment at or above these amounts (in the balance's
# currency), waits for a second staff member's approval.
B2B_FOUR_EYES_FROM = env_thresholds("B2B_FOUR_EYES_FROM", "*:1000")
# A pending request not decided within this long expires (its hold is released).
B2B_REQUEST_EXPIRY = env_duration("B2B_REQUEST_EXPIRY", "7d")
# Staff need a TOTP second factor for the admin (on by default outside the sandbox).
B2B_STAFF_MFA = env_bool("B2B_STAFF_MFA", B2B_ENVIRONMENT != "sandbox")
# The name authenticator apps show next to the codes.
OTP_TOTP_ISSUER = env_str("B2B_MFA_ISSUER", "B2B wallet")

# --- the ledger over the years (balances.partitions, `ledger_partitions`, `ledger_archive`) ------
# Month partitions made ahead of time (PostgreSQL): a row never lands in the DEFAULT partition.
B2B_LEDGER_PARTITIONS_AHEAD = env_int("B2B_LEDGER_PARTITIONS_AHEAD", 3, minimum=1)
# `ledger_archive` refuses months younger than this (the months staff and reports still read).
B2B_LEDGER_KEEP_MONTHS = env_int("B2B_LEDGER_KEEP_MONTHS", 13, minimum=1)

# --- reconciliation with Quadcode's report --------------------------------------------------------
# How far the two clocks may disagree: at either end of a report's window, an operation of ours
# it lacks is not a break.
B2B_RECONCILE_SKEW = env_duration("B2B_RECONCILE_SKEW", "5m")

# --- the customer's wallet pages (account) ------------------------------------------------------
# Money-moving forms (withdraw, announce a deposit, API session, second factor): POSTs per user.
B2B_ACCOUNT_RATE_PER_USER = env_rate("B2B_ACCOUNT_RATE_PER_USER", "10/minute")
# What /account/deposit/ tells customers, as a Django template: {{ reference }} is their own
# payment reference, {{ customer_id }} their id.
B2B_DEPOSIT_INSTRUCTIONS = env_str(
    "B2B_DEPOSIT_INSTRUCTIONS",
    "Transfer the amount from an account in your own name to our client money account and quote "
    "your payment reference {{ reference }}, so that we can credit it to you. Then announce the transfer below.")

# --- email to customers (a withdrawal's steps, a deposit credited) --------------------------------
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "b2b_server.mail.ConsoleEmailBackend"
                        if B2B_ENVIRONMENT == "sandbox" else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, positive=True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "wallet@localhost")

# --- Django --------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if B2B_ENVIRONMENT != "sandbox":
        raise ImproperlyConfigured(f"DJANGO_SECRET_KEY must be set when B2B_ENVIRONMENT is {B2B_ENVIRONMENT}.")
    SECRET_KEY = "sandbox-only-insecure-key-set-DJANGO_SECRET_KEY-for-real-use"
# Older keys still verify sessions, password-reset links and signed values while a new key rolls out.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

INSTALLED_APPS = [
    # Django's admin with our site: login limits, the audit trail and the staff's second factor.
    "backoffice.admin_site_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_ratelimit",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    # Ours, lowest first (an app imports only the apps above it in this list).
    "audit",
    "events",
    "customers",
    "balances",
    "quadcode",
    "traderoom",
    "backoffice",
    "account",
    "reconciliation",
    "integrations",
]

MIDDLEWARE = [
    "b2b_server.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "b2b_server.middleware.PageSessionMiddleware",
    "b2b_server.middleware.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "b2b_server.middleware.PageAuthenticationMiddleware",
    "b2b_server.middleware.PageOTPMiddleware",
    "b2b_server.middleware.PageMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "b2b_server.middleware.PageCSPMiddleware",
    "b2b_server.middleware.DatabaseUnavailableMiddleware",
]

# Our pages load only our own assets; the trading-room page adds the gateway's origin to
# frame-src for its iframe, and nobody may frame us.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "frame-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        # the live feed's WebSocket: this host ('self' covers ws: and wss: to it), or B2B_FEED_URL's
        "connect-src": ["'self'", *([re.match(r"wss?://[^/]+", B2B_FEED_URL).group(0)] if B2B_FEED_URL else [])],
    }
}

# Rate limits must be counted in one place for all web processes: Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL")
# django-ratelimit only vouches for its own list of backends; Django's RedisCache increments
# atomically (INCRBY), which is all it needs.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
if REDIS_URL:
    # Bounded waits: a Redis that stops answering must not hold requests (the page limits fail open).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": "b2b", "TIMEOUT": 300,
                          "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # One process only (the demo): limits are then per process.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- Celery: jobs that keep the gateway in step ---------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
# Without a broker, tasks run in-process when they are queued (after the commit).
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the message for another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    "allowed-countries": {"task": "quadcode.tasks.allowed_countries_refresh", "schedule": 3600.0},
    # Checkpoints of yesterday (UTC) a quarter past midnight, then the check from them; the whole
    # history, every hash recomputed, once a week.
    "ledger-checkpoint-nightly": {"task": "balances.tasks.ledger_checkpoint_nightly",
                                  "schedule": crontab(hour=0, minute=15)},
    # Month partitions of the ledger made B2B_LEDGER_PARTITIONS_AHEAD months ahead.
    "ledger-partitions-daily": {"task": "balances.tasks.ledger_partitions_task", "schedule": crontab(hour=0, minute=5)},
    "ledger-verify-weekly-full": {"task": "balances.tasks.ledger_verify_nightly", "kwargs": {"full": True},
                                  "schedule": crontab(hour=3, minute=15, day_of_week=0)},
    # Pending staff requests past B2B_REQUEST_EXPIRY expire (holds released); interrupted ones finish.
    "adjustment-requests-sweep": {"task": "backoffice.tasks.adjustment_requests_sweep_task", "schedule": 600.0},
    # The outbox is the truth: anything queued but not delivered (a lost message, a broker
    # restart) is picked up again.
    "redeliver-gateway-calls": {"task": "quadcode.tasks.gateway_calls_redeliver", "schedule": 60.0},
    # Retention of personal data (B2B_OUTBOX_RETENTION_DAYS, B2B_IP_RETENTION_DAYS) and of expired
    # sessions, nightly; `manage.py pii_retention` does the same by hand.
    "outbox-payloads-expire": {"task": "backoffice.tasks.outbox_payloads_expire",
                               "schedule": crontab(hour=1, minute=5)},
    "signup-ips-expire": {"task": "backoffice.tasks.signup_ips_expire", "schedule": crontab(hour=1, minute=10)},
    "sessions-clear": {"task": "backoffice.tasks.sessions_clear", "schedule": crontab(hour=1, minute=15)},
    # For the monitoring: proves beat and a worker are alive (b2b_scheduler_heartbeat_timestamp_seconds).
    "scheduler-heartbeat": {"task": "b2b_server.celery.scheduler_heartbeat", "schedule": 60.0},
    # Numbers committed events (the API, webhooks and the feed number them too when they read).
    "events-sequence": {"task": "events.tasks.events_sequence_task", "schedule": 2.0},
    # Sends each key's webhook the events it has not acknowledged (retries wait out their backoff).
    "webhooks-deliver": {"task": "integrations.tasks.webhooks_deliver_task", "schedule": 2.0},
}
# Backoff of gateway calls that failed: base * 2**attempt seconds, capped.
B2B_GATEWAY_RETRY_BASE = env_float("B2B_GATEWAY_RETRY_BASE", 5.0, positive=True)
B2B_GATEWAY_RETRY_MAX = env_float("B2B_GATEWAY_RETRY_MAX", 600.0, positive=True)

# --- HTTPS outside the sandbox (`manage.py check --deploy` is clean with these defaults) ----------
_SECURE = B2B_ENVIRONMENT != "sandbox"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", _SECURE)
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", _SECURE)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/api)?$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if _SECURE else 0)
# HSTS covers this host's own subdomains; "preload" only matters if the domain is submitted.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", _SECURE)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", _SECURE)
# Behind a TLS-terminating proxy: the header it sets, e.g. HTTP_X_FORWARDED_PROTO (value "https").
if env_str("DJANGO_SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (env_str("DJANGO_SECURE_PROXY_SSL_HEADER"), "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "traderoom"
LOGOUT_REDIRECT_URL = "login"

ROOT_URLCONF = "b2b_server.urls"
# The balance API's paths, served the short way (b2b_server.handler); by name: the cross-cutting
# package imports no app. Empty: every request takes Django's full way (to compare: bench/run).
B2B_FAST_URLCONF = env_str("B2B_FAST_URLCONF", "balances.urls")
WSGI_APPLICATION = "b2b_server.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL in production and tests; with DATABASE_URL unset, an embedded SQLite file for the
# demo only (SQLite keeps decimals as floating point: never hold real money in it). libpq's
# multi-host form (postgres://u@db1:5432,db2:5432/b2b?target_session_attrs=read-write) is
# accepted too: b2b_server.database_url.
# `manage.py migrate` connects as DATABASE_MIGRATE_URL instead (the role that owns the schema;
# unset: DATABASE_URL, so a one-role setup keeps working), with DATABASE_MIGRATE_LOCK_TIMEOUT:
# the serving role may not change the schema at all (bin/db-roles, docs/operations.md).
# The ledger's partition commands change the schema too: they run as the owner.
_MIGRATING = len(sys.argv) > 1 and sys.argv[1] in ("migrate", "ledger_partitions", "ledger_archive") \
    and sys.argv[0].endswith("manage.py")


def _database(variable: str, url: str) -> dict:
    try:
        return database_url.parse(
            url,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 600),
            # No per-request "SELECT 1": a connection broken by a database restart fails one request
            # with 503 (nothing applied, retry) and is replaced; the hot path saves a round trip.
            conn_health_checks=env_bool("DATABASE_HEALTH_CHECKS", False),
        )
    except ValueError as exc:  # dj_database_url.ParseError and friends
        raise ImproperlyConfigured(f"{variable} is not a database URL: {exc}") from None


DATABASES = {"default": _database("DATABASE_URL", env_str("DATABASE_URL")
                                  or f"sqlite:///{BASE_DIR / 'var' / 'demo.sqlite3'}")}
if env_str("DATABASE_MIGRATE_URL"):
    _owner = _database("DATABASE_MIGRATE_URL", env_str("DATABASE_MIGRATE_URL"))
    if (_owner["ENGINE"], _owner["NAME"]) != (DATABASES["default"]["ENGINE"], DATABASES["default"]["NAME"]):
        raise ImproperlyConfigured("DATABASE_MIGRATE_URL must name the same database as DATABASE_URL "
                                   "(another role, the same database).")
    if _MIGRATING:
        DATABASES["default"] = _owner
# Bounded waits (seconds; 0 turns one off): no statement waits forever for a lock, and no web
# request runs a statement forever. A lock timeout answers 503 `lock_timeout` (nothing applied,
# retry); batch commands that legitimately read the whole ledger lift the statement limit for
# their own transaction (b2b_server.db.unbounded_statements). A migration waits at most
# DATABASE_MIGRATE_LOCK_TIMEOUT for its lock: it fails and is run again rather than queue every
# debit behind its ACCESS EXCLUSIVE request.
DATABASE_LOCK_TIMEOUT = env_float("DATABASE_LOCK_TIMEOUT", 5.0)
DATABASE_STATEMENT_TIMEOUT = env_float("DATABASE_STATEMENT_TIMEOUT", 30.0)
DATABASE_IDLE_IN_TRANSACTION_TIMEOUT = env_float("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT", 60.0)
DATABASE_MIGRATE_LOCK_TIMEOUT = env_float("DATABASE_MIGRATE_LOCK_TIMEOUT", 2.0)
# Server-side prepared statements for the ledger's statement. Off (false) behind a pooler that
# does not keep them per client (PgBouncer before 1.21 in transaction mode): see docs/operations.md.
DATABASE_SERVER_PREPARES = env_bool("DATABASE_SERVER_PREPARES", True)
# Server-side cursors (QuerySet.iterator()) outside a transaction are WITH HOLD cursors of the
# session; a transaction-mode pooler hands the next fetch to another server connection. False:
# iterator() reads client-side (Django's DISABLE_SERVER_SIDE_CURSORS).
DATABASE_SERVER_SIDE_CURSORS = env_bool("DATABASE_SERVER_SIDE_CURSORS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = not DATABASE_SERVER_SIDE_CURSORS
    # Django turns prepared statements off by default; the ledger's one statement per debit or
    # credit asks for preparation explicitly (Django's own queries never prepare). None turns
    # them off for the connection, the explicit request included (psycopg).
    _options["prepare_threshold"] = 5 if DATABASE_SERVER_PREPARES else None
    _timeouts = {"lock_timeout": DATABASE_MIGRATE_LOCK_TIMEOUT if _MIGRATING else DATABASE_LOCK_TIMEOUT,
                 "statement_timeout": DATABASE_STATEMENT_TIMEOUT,
                 "idle_in_transaction_session_timeout": DATABASE_IDLE_IN_TRANSACTION_TIMEOUT}
    # Sent once per connection, in the start-up packet: no round trip per request. A pooler in
    # transaction mode drops them (ignore_startup_parameters): the role carries them then
    # (ALTER ROLE … SET, as bin/db-roles does).
    _options["options"] = " ".join([_options.get("options", ""), *(
        f"-c {name}={int(seconds * 1000)}" for name, seconds in _timeouts.items())]).strip()
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE: writers queue for the database lock instead of failing mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 20})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
LANGUAGES = [("en-us", "English"), ("de-de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- the API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "EXCEPTION_HANDLER": "b2b_server.error_handlers.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "B2B client external balance API",
    "DESCRIPTION": "The balance API Quadcode's servers call: read a balance, debit it when an option "
                   "opens, credit it when it closes. Every call is signed with an ES256 JWT and comes "
                   "from an allowlisted IP.",
    "VERSION": "1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "PREPROCESSING_HOOKS": ["b2b_server.schema_hooks.without_backoffice"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json_line": {"format": "%(message)s"},
    },
    # Every line passes b2b_server.logmask first: no customer's email address reaches the log.
    "filters": {"personal_data": {"()": "b2b_server.logmask.PersonalDataFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["personal_data"]},
        "requests": {"class": "logging.StreamHandler", "formatter": "json_line"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Unexpected errors are answered with a JSON 500 by our handler; their traces go to the log.
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # One JSON line per request (b2b_server.middleware.RequestLogMiddleware).
        "b2b.request": {"handlers": ["requests"], "level": env_str("REQUEST_LOG_LEVEL", "INFO"),
                        "propagate": False},
        # Scanners probing with foreign Host headers get a JSON 400; a traceback each is only noise.
        "django.security.DisallowedHost": {"handlers": [], "propagate": False},
        # One line per gateway call is ours to write (quadcode.gateway), with what matters.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
