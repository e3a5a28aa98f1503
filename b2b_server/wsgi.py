"""The WSGI entry point (granian serves it: bin/serve)."""

import os

from django.core.wsgi import get_wsgi_application

from b2b_server.startup import startup_checks_run

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")

application = get_wsgi_application()
startup_checks_run()
