"""HTTP: receiving deliveries (`POST /api/webhooks/<source>`) and reading receipts (staff).

Under Daphne, `webhooks.asgi.WebhookIngress` answers deliveries before Django's handler;
`receive` below answers them everywhere else (WSGI, the test client). Both call
`answer_delivery`/`answer_too_large`, which call the service, so they answer alike.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks import headers as h
from webhooks import selectors, services
from webhooks.rejections import Rejected
from webhooks.serializers import ReceiptListFilter, ReceiptSerializer


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict
    headers: dict = field(default_factory=dict)


def _refused(rejection: Rejected) -> Answer:
    extra = {h.RETRY_AFTER: str(rejection.retry_after)} if rejection.retry_after else {}
    return Answer(rejection.status, {"error": rejection.message}, extra)


def answer_delivery(*, source_name: str, headers: Mapping[str, str], body: bytes) -> Answer:
    """201 with the new receipt, 200 with the first one for a redelivery, or the rejection."""
    return answer_deliveries([{"source_name": source_name, "headers": headers, "body": body}])[0]


def answer_deliveries(requests: list[dict]) -> list[Answer]:
    """The answer to each of several deliveries (`source_name`, `headers`, `body`), stored
    together: the ASGI ingress hands over those that arrived while it stored the last batch."""
    answers: list[Answer | None] = [None] * len(requests)
    verified: list[tuple[int, services.Delivery]] = []
    for index, outcome in enumerate(services.verify_deliveries(requests=requests)):
        if isinstance(outcome, Rejected):
            answers[index] = _refused(outcome)
        else:
            verified.append((index, outcome))
    stored = services.record_deliveries(deliveries=[delivery for _, delivery in verified])
    for (index, _), accepted in zip(verified, stored, strict=True):
        data = {
            "id": str(accepted.receipt_id),
            "event": accepted.event,
            "job_id": str(accepted.job_id) if accepted.job_id else None,
            "duplicate": not accepted.created,
        }
        answers[index] = Answer(201 if accepted.created else 200, data)
    return answers


def answer_too_large(*, source_name: str, headers: Mapping[str, str], head: bytes) -> Answer:
    return _refused(services.reject_too_large(source_name=source_name, headers=headers, head=head))


def declared_length(raw: str | None) -> int | None:
    """Content-Length as a number; None when absent or not a number (the body decides then)."""
    raw = (raw or "").strip()
    # isascii: "²" is a digit to str.isdigit, not to int().
    return int(raw) if raw.isascii() and raw.isdigit() else None


@csrf_exempt
def receive(request, source: str) -> JsonResponse:
    """A delivery, read no further than the size limit: a body that declares more is refused
    before any of it is read, one that turns out longer after limit + 1 bytes."""
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    declared = declared_length(request.META.get("CONTENT_LENGTH"))
    if declared is not None and declared > limit:
        answer = answer_too_large(source_name=source, headers=request.headers, head=b"")
    else:
        body = request.read(limit + 1)
        if len(body) > limit:
            answer = answer_too_large(source_name=source, headers=request.headers, head=body)
        else:
            answer = answer_delivery(source_name=source, headers=request.headers, body=body)
    return JsonResponse(answer.data, status=answer.status, headers=answer.headers)


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
        paginator = PageNumberPagination()
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


_receipt_detail = ReceiptDetail.as_view()


@csrf_exempt
def source_or_receipt(request, key: str):
    """`/api/webhooks/<key>`: POST delivers to source `key`; anything else reads receipt `key`."""
    if request.method == "POST":
        return receive(request, source=key)
    return _receipt_detail(request, receipt_id=key)
