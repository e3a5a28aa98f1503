from django.urls import path

from integrations.feed.consumer import EventFeed

websocket_urlpatterns = [path("ws/events", EventFeed.as_asgi())]
