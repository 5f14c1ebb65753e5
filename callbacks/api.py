"""`GET /api/jobs/<id>/callbacks` and `POST /api/me/callback-secret`."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.limits import CredentialChanges
from bespin.lib.schema import SIGNED_IN, ErrorSerializer
from callbacks import selectors, services
from callbacks.serializers import CallbackLogSerializer, SecretSerializer
from jobs import selectors as job_selectors
from jobs.api.schema import JOB_ID


class JobCallbacks(APIView):
    """The callbacks of one job and every attempt to send them, oldest first: for the job's
    owner and staff (anyone else: 404, as the attempts hold what the owner's receiver answered)."""

    @extend_schema(
        operation_id="jobs_callbacks",
        parameters=[JOB_ID],
        responses={
            200: CallbackLogSerializer,
            404: OpenApiResponse(ErrorSerializer, "no job whose callbacks you may see"),
        },
    )
    def get(self, request, job_id):
        job = job_selectors.job_or_404(job_id)
        if not selectors.may_see_callbacks(request.user, job):
            raise Http404(f"no callbacks of job {job.id} that you may see: only its owner and staff see them")
        log = {
            "callback_url": job.callback_url,
            "deliveries": selectors.deliveries_of(job),
            "attempts": selectors.attempts_of(job),
        }
        return Response(CallbackLogSerializer(log).data)


class CallbackSecretView(APIView):
    """Create your callback signing secret, or rotate it: the answer shows it this once. After
    a rotation the replaced secret still signs for 24 hours (a second signature). Counted, with
    the API access page's changes, against BESPIN_THROTTLE_CREDENTIALS."""

    throttle_classes = [CredentialChanges]

    @extend_schema(
        operation_id="me_callback_secret",
        request=None,
        responses={
            201: OpenApiResponse(SecretSerializer, "your first secret"),
            200: OpenApiResponse(
                SecretSerializer, "a new secret; the replaced one signs too until previous_valid_until"
            ),
            429: OpenApiResponse(ErrorSerializer, "over BESPIN_THROTTLE_CREDENTIALS: changes to your credentials"),
        },
        parameters=[
            OpenApiParameter(
                "Cache-Control",
                str,
                OpenApiParameter.HEADER,
                response=[200, 201],
                required=True,
                enum=["no-store"],
                description="a secret is kept in no cache",
            )
        ],
        auth=SIGNED_IN,
    )
    def post(self, request):
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in (session or Authorization: Token …) to have a callback secret")
        rotated = services.rotate_callback_secret(user=request.user)
        body = SecretSerializer({"secret": rotated.secret, "previous_valid_until": rotated.previous_until}).data
        # A secret in an answer must not stay in any cache on the way.
        headers = {"Cache-Control": "no-store"}
        return Response(
            body, status=status.HTTP_200_OK if rotated.replaced else status.HTTP_201_CREATED, headers=headers
        )
