"""The ASGI entry point: the live feed's WebSocket (`/ws/events`) and, for a deployment that
wants one process, every HTTP page too (bin/serve-feed). `b2b_server.wsgi:application` stays the
server of the balance API and the pages (bin/serve); a proxy sends `/ws/` here (deploy/nginx)."""

import os
from importlib import import_module

from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application

from b2b_server.startup import startup_checks_run

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "b2b_server.settings")

http = get_asgi_application()
# By name, as urls.py includes the apps' URLs: the cross-cutting package imports no app.
feed = import_module("integrations.feed.routing")
application = ProtocolTypeRouter({"http": http, "websocket": URLRouter(feed.websocket_urlpatterns)})
startup_checks_run()
