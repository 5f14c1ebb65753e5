"""Reading stored receipts (staff): `GET /api/webhooks`, `GET /api/webhooks/<id>`.
Deliveries (`POST /api/webhooks/<source>`) are received by webhooks.endpoint."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.lib.pagination import ReceivedNewestFirst, paginated
from bespin.lib.schema import ErrorSerializer, links
from webhooks import selectors
from webhooks.serializers import ReceiptListFilter, ReceiptSerializer

_ERROR = OpenApiResponse(ErrorSerializer, '`{"error": reason}`')
_NOT_STAFF = {
    401: OpenApiResponse(ErrorSerializer, "not signed in"),
    403: OpenApiResponse(ErrorSerializer, "signed in, but not as staff"),
}
# From a receipt to the job its delivery started (a link a client follows when there is one).
_TO_JOB = {"job": ("jobs_retrieve", {"job_id": "$response.body#/job_id"})}


class StaffOnly(BasePermission):
    def has_permission(self, request, view):
        if not hasattr(view, request.method.lower()):
            # A method the view lacks is a 405 (with Allow), whoever asks.
            return True
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in as staff (session or Authorization: Token …) to read webhook receipts")
        if not request.user.is_staff:
            raise PermissionDenied("webhook receipts are for staff only")
        return True


class ReceiptList(APIView):
    """Stored webhook receipts, newest first. Filters: `source`, `event`, `verified`,
    `received_after`, `received_before` (ISO 8601)."""

    permission_classes = [StaffOnly]
    pagination_class = ReceivedNewestFirst

    @extend_schema(
        operation_id="webhooks_list",
        parameters=[ReceiptListFilter],
        responses={
            200: ReceiptSerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, "a bad filter"),
            **_NOT_STAFF,
        },
        extensions=links(200, first=("webhooks_retrieve", {"key": "$response.body#/results/0/id"})),
    )
    def get(self, request):
        filters = ReceiptListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = selectors.receipts(**filters.validated_data)
        return paginated(self, request, found, ReceiptSerializer)


class ReceiptDetail(APIView):
    """One stored webhook receipt."""

    permission_classes = [StaffOnly]

    @property
    def default_response_headers(self):
        # POST to this URL is a delivery, which webhooks.endpoint answers before Django: the
        # `Allow` header names it too.
        headers = super().default_response_headers
        headers["Allow"] += ", POST"
        return headers

    @extend_schema(
        operation_id="webhooks_retrieve",
        # The path's one parameter is named for both of its operations: a receipt's id here,
        # a source's name for a delivery (POST, answered by webhooks.endpoint).
        parameters=[OpenApiParameter("key", OpenApiTypes.UUID, OpenApiParameter.PATH, description="the receipt's id")],
        responses={200: ReceiptSerializer, 404: _ERROR, **_NOT_STAFF},
        extensions=links(200, **_TO_JOB),
    )
    def get(self, request, key):
        receipt = selectors.get_receipt(key)
        if receipt is None:
            raise NotFound(f"no webhook receipt with id {key!r}")
        return Response(ReceiptSerializer(receipt, context={"request": request}).data)
