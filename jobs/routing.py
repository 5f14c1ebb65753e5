from django.urls import re_path

from jobs.consumers import JobStatusConsumer

websocket_urlpatterns = [
    re_path(r"^api/ws/jobs/?$", JobStatusConsumer.as_asgi()),
    re_path(r"^api/ws/?$", JobStatusConsumer.as_asgi()),
]
