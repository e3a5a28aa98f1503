"""The WSGI entry point (granian serves it: bin/serve): Django's handler with the balance API's
short way through (b2b_server.handler)."""

import os

import django

from b2b_server.startup import startup_checks_run

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")
django.setup(set_prefix=False)

from b2b_server.handler import FastPathWSGIHandler  # noqa: E402 (needs the settings and apps)

application = FastPathWSGIHandler()
startup_checks_run()
