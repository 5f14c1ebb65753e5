"""Reading stored receipts (staff): `GET /api/webhooks`, `GET /api/webhooks/<id>`.
Deliveries (`POST /api/webhooks/<source>`) are received by webhooks.ingress."""

from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from bespin.pagination import ReceivedNewestFirst
from webhooks import selectors
from webhooks.serializers import ReceiptListFilter, ReceiptSerializer


class StaffOnly(BasePermission):
    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            raise NotAuthenticated("sign in as staff (session or Authorization: Token …) to read webhook receipts")
        if not request.user.is_staff:
            raise PermissionDenied("webhook receipts are for staff only")
        return True


class ReceiptList(APIView):
    """Stored webhook receipts, newest first. Filters: `source`, `event`, `verified`,
    `received_after`, `received_before` (ISO 8601)."""

    permission_classes = [StaffOnly]
    serializer_class = ReceiptSerializer  # for the OpenAPI schema

    @extend_schema(parameters=[ReceiptListFilter], responses=ReceiptSerializer(many=True))
    def get(self, request):
        filters = ReceiptListFilter(data=request.query_params)
        filters.is_valid(raise_exception=True)
        found = selectors.receipts(**filters.validated_data)
        paginator = ReceivedNewestFirst()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(ReceiptSerializer(page, many=True, context={"request": request}).data)


class ReceiptDetail(APIView):
    """One stored webhook receipt."""

    permission_classes = [StaffOnly]
    serializer_class = ReceiptSerializer

    def get(self, request, receipt_id):
        receipt = selectors.get_receipt(receipt_id)
        if receipt is None:
            raise NotFound(f"no webhook receipt with id {receipt_id!r}")
        return Response(ReceiptSerializer(receipt, context={"request": request}).data)
