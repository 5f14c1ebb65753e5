"""One error shape for the whole API: `{"error": "<reason>"}`, plus `fields` for validation.

DRF's own shape differs per exception (`{"detail": …}`, `{"length": […]}`); clients of
Bespin get one reason string to show and, for bad input, the per-field messages.
"""

from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe
from rest_framework import exceptions
from rest_framework.views import exception_handler


def flat_messages(detail) -> list[tuple[list[str], str]]:
    """Every message of a DRF error detail, in order, with the keys that lead to it:
    `{"params": {"length": ["too big"]}}` → `[(["params", "length"], "too big")]`."""
    if isinstance(detail, dict):
        return [([str(key), *path], message) for key, value in detail.items() for path, message in flat_messages(value)]
    if isinstance(detail, list):
        return [item for value in detail for item in flat_messages(value)]
    return [([], str(detail))]


def first_message(detail) -> str:
    """The first message of a DRF error detail, after the fields it is about: `params: length: too big`."""
    messages = flat_messages(detail)
    if not messages:
        return "invalid input"
    path, message = messages[0]
    return ": ".join([*(key for key in path if key != "non_field_errors"), message])


def api_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"error": first_message(exc.detail), "fields": exc.detail}
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


@csrf_exempt  # changes nothing: any other method is a 405, not a CSRF refusal
@require_safe
def websocket_only(request):
    """A plain HTTP request to a WebSocket's URL (a browser's address bar, curl): 426 saying
    how to connect, rather than a 404 that says it is not there."""
    return JsonResponse(
        {"error": "this is a WebSocket: connect with a WebSocket client (Upgrade: websocket)"},
        status=426,
        headers={"Upgrade": "websocket"},
    )


@csrf_exempt  # an unknown path: nothing to protect, and a POST gets the same JSON 404
def api_not_found(request, rest: str = ""):
    """Any other path under /api/: the JSON 404 also with DEBUG on, where Django would answer
    its HTML page instead of `handler404`. A path that lacks only its trailing slash is
    redirected, as APPEND_SLASH would have (this catch-all leaves it nothing to redirect)."""
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return JsonResponse({"error": "not found"}, status=404)
