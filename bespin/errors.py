"""One error shape for the whole API: `{"error": "<reason>"}`, plus `fields` for validation.

DRF's own shape differs per exception (`{"detail": …}`, `{"length": […]}`); clients of
Bespin get one reason string to show and, for bad input, the per-field messages.
"""

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.views import exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            message = _first_message(value)
            return message if key == "non_field_errors" else f"{key}: {message}"
        return "invalid input"
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "invalid input"
    return str(detail)


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": _first_message(exc.detail), "fields": exc.detail}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """JSON for unknown API paths, Django's page for the rest."""
    if _is_api(request):
        return JsonResponse({"error": "not found"}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"error": "internal server error"}, status=500)
    from django.views.defaults import server_error as default_server_error

    return default_server_error(request)


def bad_request(request, exception=None):
    if _is_api(request):
        return JsonResponse({"error": "bad request"}, status=400)
    from django.views.defaults import bad_request as default_bad_request

    return default_bad_request(request, exception)
