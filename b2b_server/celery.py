"""The Celery app. Broker: CELERY_BROKER_URL (Redis). Unset, tasks run in-process (eagerly) —
the embedded default of the demo."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")

app = Celery("b2b_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
