"""Settings of the naive peer (bench/naive/README.md): the defaults a first version would have."""

import os

import dj_database_url
from cryptography.hazmat.primitives.serialization import load_pem_public_key

SECRET_KEY = "naive-peer-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "naive"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "urls"
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=600)}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [], "DEFAULT_PERMISSION_CLASSES": [],
                  "UNAUTHENTICATED_USER": None}
# Loaded once (parsing the PEM on every request would slow it down for nothing).
with open(os.environ["NAIVE_PUBLIC_KEY_FILE"], "rb") as _pem:
    PUBLIC_KEY = load_pem_public_key(_pem.read())
AUDIENCE = os.environ.get("NAIVE_AUDIENCE", "sandbox")
ISSUER = os.environ.get("NAIVE_ISSUER", "qc")
