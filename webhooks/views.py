"""Dashboard pages for webhooks, for staff: the receipts, one receipt with its payload and
headers, and each source's health. They read through webhooks.selectors."""

import json
from datetime import datetime
from functools import wraps

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse

from bespin.lib.pagination import BadCursor, Page, ReceivedNewestFirst, without_cursor
from webhooks import selectors
from webhooks.models import SOURCE_NAME_PATTERN

PAGE_SIZE = 25
RECENT_PER_SOURCE = 5


def staff_only(view):
    """Signed-in staff only: others are sent to sign in, signed-in non-staff refused (403)."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("webhook receipts are for staff only")
        return view(request, *args, **kwargs)

    return wrapped


class ReceiptFilters(forms.Form):
    source = forms.CharField(
        required=False,
        max_length=64,
        # Receipts outlive their sources, so any well-formed name may be asked for.
        validators=[RegexValidator(SOURCE_NAME_PATTERN, "A source name has lowercase letters, digits, _ and -.")],
        widget=forms.Select,
    )
    event = forms.CharField(required=False, max_length=200, widget=forms.TextInput(attrs={"placeholder": "e.g. push"}))
    received_after = forms.DateTimeField(
        required=False, label="Received after (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    received_before = forms.DateTimeField(
        required=False, label="Received before (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )

    def __init__(self, *args, sources: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        asked = self.data.get("source", "")
        names = sorted(set(sources) | ({asked} if asked else set()))
        self.fields["source"].widget.choices = [("", "Any source"), *((name, name) for name in names)]


@staff_only
def receipt_list(request):
    filters = ReceiptFilters(request.GET, sources=selectors.source_names())
    page, status = None, 200
    if filters.is_valid():
        found = selectors.receipts(**{name: value for name, value in filters.cleaned_data.items() if value})
        try:
            page = Page(request, found.select_related("job"), ReceivedNewestFirst, page_size=PAGE_SIZE)
        except BadCursor:
            return redirect(f"{reverse('webhook-receipts')}?{without_cursor(request)}")
    else:
        status = 400
        for name in filters.errors:
            filters.fields[name].widget.attrs["aria-describedby"] = f"{filters[name].auto_id}-error"
    context = {
        "filters": filters,
        "filtered": any(request.GET.get(name) for name in ReceiptFilters.base_fields),
        "page": page,
        "receipts": page.items if page is not None else [],
    }
    return render(request, "webhooks/receipts.html", context, status=status)


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@staff_only
def receipt_detail(request, receipt_id):
    receipt = selectors.get_receipt(receipt_id)
    if receipt is None:
        raise Http404("no such webhook receipt")
    context = {
        "receipt": receipt,
        "job": receipt.job,
        "payload": _pretty(receipt.payload),
        "headers": sorted(receipt.headers.items()) if isinstance(receipt.headers, dict) else [],
    }
    return render(request, "webhooks/receipt_detail.html", context)


def _rejection(entry: dict) -> dict:
    """A kept rejection for the page: its time parsed, its headers sorted."""
    try:
        at = datetime.fromisoformat(entry.get("at", ""))
    except (TypeError, ValueError):
        at = None
    headers = entry.get("headers")
    return {**entry, "at": at, "headers": sorted(headers.items()) if isinstance(headers, dict) else []}


@staff_only
def source_health(request):
    sources = [
        {
            "health": health,
            "reasons": sorted(health.rejections_by_reason.items(), key=lambda item: (-item[1], item[0])),
            "rejections": [_rejection(entry) for entry in health.recent_rejections],
            "recent": selectors.recent_receipts(limit=RECENT_PER_SOURCE, source=health.name),
        }
        for health in selectors.source_health()
    ]
    return render(request, "webhooks/sources.html", {"sources": sources})
