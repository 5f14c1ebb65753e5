"""Lists page newest first from a cursor: each page is one index range scan, whatever the
table holds. A page number would need OFFSET over every row before it, and a page count a
COUNT(*) over millions. The API and the dashboard page alike."""

from urllib.parse import urlsplit, urlunsplit

from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


def paginated(view, request, queryset, serializer_class):
    """A view's answer: the page of `queryset` that the request's cursor names, in the
    view's pagination envelope, each item as `serializer_class` writes it."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)


class NewestFirst(CursorPagination):
    """`?cursor=` pages of 20, newest first; `next` and `previous` are links (or null)."""

    ordering = "-created_at"
    page_size = 20

    def decode_cursor(self, request):
        # DRF takes the position in a cursor on trust; one that is no time would reach the
        # database as a filter and fail there (a 500), so it is refused here as invalid.
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None and parse_datetime(cursor.position) is None:
            raise NotFound(self.invalid_cursor_message)
        return cursor

    def get_paginated_response_schema(self, schema):
        # The envelope as get_paginated_response() writes it: all three keys, always.
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "the next (older) page; null on the last"},
                "previous": {**link, "description": "the previous (newer) page; null on the first"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "in": "query",
                "required": False,
                # An empty cursor is the first page, as no cursor is.
                "allowEmptyValue": True,
                "description": "where the page starts: take it from `next` or `previous`",
                "schema": {"type": "string"},
            }
        ]


class ReceivedNewestFirst(NewestFirst):
    ordering = "-received_at"


class BadCursor(Exception):
    """The `cursor` query parameter is not one this list gave out."""


class Page:
    """One page of a list for a template: its items, and links to the newer and older pages
    (relative: path and query string)."""

    def __init__(self, request, queryset, pagination: type[NewestFirst], *, page_size: int):
        paginator = pagination()
        paginator.page_size = page_size
        try:
            self.items = paginator.paginate_queryset(queryset, Request(request))
        except NotFound:
            raise BadCursor from None
        self.newer = _relative(paginator.get_previous_link())
        self.older = _relative(paginator.get_next_link())
        self.is_first = self.newer is None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def without_cursor(request) -> str:
    """The request's query string without its cursor: where a bad cursor sends a page back to."""
    query = request.GET.copy()
    query.pop(NewestFirst.cursor_query_param, None)
    return query.urlencode()


def _relative(link: str | None) -> str | None:
    if link is None:
        return None
    parts = urlsplit(link)
    return urlunsplit(("", "", parts.path, parts.query, ""))
