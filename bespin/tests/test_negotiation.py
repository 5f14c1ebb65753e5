"""The shortcut in bespin.lib.negotiation picks what DRF's own negotiation picks."""

import pytest
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from bespin.lib.negotiation import Negotiation

RENDERERS = [renderer() for renderer in api_settings.DEFAULT_RENDERER_CLASSES]


@pytest.mark.parametrize(
    ("accept", "query"),
    [
        (None, ""),
        ("*/*", ""),
        ("*/*", "?format=api"),
        ("*/*", "?format=json"),
        ("application/json", ""),
        ("text/html", ""),
        ("text/html,application/xhtml+xml,*/*;q=0.8", ""),
        ("application/json; indent=4", ""),
    ],
)
def test_the_renderer_and_media_type_are_drfs_own(accept, query):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    request = Request(APIRequestFactory().get(f"/api/jobs{query}", **headers))
    ours = Negotiation().select_renderer(request, RENDERERS)
    theirs = DefaultContentNegotiation().select_renderer(request, RENDERERS)
    assert (type(ours[0]), ours[1]) == (type(theirs[0]), theirs[1])
