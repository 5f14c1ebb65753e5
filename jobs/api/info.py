"""`GET /api/`: what the API is and where to go next; `GET /api/test`, `GET /api/jobs/test`:
liveness."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from jobs import registry
from jobs.api.serializers import ApiInfoSerializer, LivenessSerializer


class ApiRoot(APIView):
    """Bespin's API: what it is and where to go next."""

    @extend_schema(operation_id="api_info", responses=ApiInfoSerializer, tags=["api"])
    def get(self, request):
        return Response(
            {
                "name": "Bespin API",
                "version": settings.VERSION,
                "description": "Create jobs, watch them over WebSockets, receive signed webhooks.",
                "links": {
                    "jobs": reverse("api-jobs", request=request),
                    "random_text": reverse("api-random-text", request=request),
                    "test": reverse("api-test", request=request),
                    "schedules": reverse("api-schedules", request=request),
                    "websocket": "/api/ws/jobs?job_id=<id>",
                },
                "job_types": list(registry.offered(anonymous=not request.user.is_authenticated)),
            }
        )


class Liveness(APIView):
    """Answers while the server runs."""

    message = "Bespin API is running"

    @extend_schema(responses=LivenessSerializer, tags=["health"])
    def get(self, request):
        return Response({"message": self.message, "timestamp": timezone.now().isoformat()})


class JobsLiveness(Liveness):
    message = "Bespin job service is running"
