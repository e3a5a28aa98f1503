"""Start-up checks, one mechanism for every way the code starts.

Each app registers its checks with Django's system-check framework under the tag `b2b`
(`@register(TAG)`). `manage.py` runs them before every command, as Django does (commands that
make the very keys the checks look for opt out with `requires_system_checks = []`). The server
entry points — WSGI, ASGI and the Celery worker and beat, which Django's command runner never
reaches — call `startup_checks_run()` once after `django.setup()`: a bad configuration then stops
the process at start, naming the variable, rather than failing on the first request.

What needs no file or app registry (numbers, booleans, rates, addresses) is checked even
earlier, when the settings are read (b2b_server.env).
"""

from __future__ import annotations

from django.core import checks
from django.core.exceptions import ImproperlyConfigured

TAG = "b2b"


def startup_checks_run() -> None:
    problems = [message for message in checks.run_checks(tags=[TAG]) if message.is_serious()]
    if problems:
        raise ImproperlyConfigured("; ".join(f"{message.msg} ({message.id})" for message in problems))
