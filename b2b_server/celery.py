"""The Celery app. Broker: CELERY_BROKER_URL (Redis). Unset, tasks run in-process (eagerly) —
the embedded default of the demo."""

import os
import sys

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")

app = Celery("b2b_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _startup_checks(**kwargs) -> None:
    """A worker or beat with a bad configuration stops at start, as the web server does."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    from b2b_server.startup import startup_checks_run

    django.setup()
    try:
        startup_checks_run()
    except ImproperlyConfigured as exc:
        # Celery logs and swallows a signal handler's exceptions; SystemExit is not one of those.
        print(f"celery: the configuration is not usable: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


@app.task(name="b2b_server.celery.scheduler_heartbeat")
def scheduler_heartbeat() -> float:
    """Run by beat every minute through a worker: the monitoring alerts when it stops."""
    import time

    from django.core.cache import cache

    from b2b_server.ops import HEARTBEAT_KEY

    now = time.time()
    cache.set(HEARTBEAT_KEY, now, timeout=None)
    return now
