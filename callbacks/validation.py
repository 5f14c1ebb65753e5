"""The check every way of creating a job runs on its `callback_url` (the API, the dashboard,
jobs.services.creation.create_job_once for whatever calls it: batches and schedules too)."""

from django.conf import settings
from rest_framework import serializers

from bespin.lib.addresses import RefusedUrl, check_url
from callbacks import selectors

FIELD = "callback_url"
SECRET_ENDPOINT = "POST /api/me/callback-secret"


def validate_callback_url(*, url: str, owner, anonymous: bool = False) -> str:
    """The callback URL to store for a job of `owner` ("" for none), or a ValidationError on
    `callback_url` saying what to change: an anonymous caller, an owner without a signing
    secret, a URL that is not http(s), carries credentials, or names a non-public address."""
    if not isinstance(url or "", str):
        raise _invalid("must be a string: the URL")
    url = (url or "").strip()
    if not url:
        return ""
    if anonymous or owner is None or owner.pk is None:
        raise _invalid("sign in to set a callback_url: callbacks are signed with their owner's secret")
    try:
        check_url(url, allow_private=settings.CALLBACK_ALLOW_PRIVATE)
    except RefusedUrl as refused:
        raise _invalid(f"the callback URL {refused}") from None
    if not selectors.has_callback_secret(owner):
        raise _invalid(f"you have no callback signing secret yet: create one with {SECRET_ENDPOINT}")
    return url


def _invalid(message: str) -> serializers.ValidationError:
    return serializers.ValidationError({FIELD: [message]})
