"""Each source's health on the dashboard: deliveries, last success, rejections and why."""

import re

import pytest
from django.urls import reverse

from webhooks.tests.signing import bespin_headers, body_of

pytestmark = pytest.mark.django_db


def _card(page: str, name: str) -> str:
    start = page.index(f'id="source-{name}"')
    end = page.find('<section class="card source"', start)
    return page[start : end if end != -1 else None]


def test_a_source_shows_its_deliveries_and_last_success(staff_client, make_source, deliver):
    make_source("acme", secrets=["acme-secret"])
    make_source("quiet", secrets=["quiet-secret"])
    ids = []
    for event in ("build.started", "build.done"):
        body = body_of({"event": event})
        ids.append(deliver("acme", body, bespin_headers("acme-secret", body)).json()["id"])
    page = staff_client.get(reverse("webhook-sources")).content.decode()
    acme = _card(page, "acme")
    assert re.search(r'Deliveries, last 24 h</span><span class="count">2<', acme)
    assert "never" not in acme
    assert f'href="{reverse("webhook-receipt", args=[ids[1]])}"' in acme
    assert acme.index("build.done") < acme.index("build.started")
    quiet = _card(page, "quiet")
    assert "never" in quiet and "None yet." in quiet


def test_rejections_are_counted_by_reason_and_the_last_ones_shown_as_text(staff_client, make_source, deliver):
    make_source("acme", secrets=["acme-secret"])
    body = b'{"event": "<script>alert(1)</script>"}'
    deliver("acme", body, {"X-Webhook-Signature": "0" * 64})
    deliver("acme", body, {"X-Webhook-Signature": "0" * 64})
    deliver("acme", body)
    page = staff_client.get(reverse("webhook-sources")).content.decode()
    acme = _card(page, "acme")
    assert re.search(r'Rejections</span><span class="count">3<', acme)
    reasons = re.findall(r"<tr><td><code>(\w+)</code></td><td>(\d+)</td></tr>", acme)
    assert reasons == [("bad_signature", "2"), ("missing_signature", "1")]
    assert acme.count("<details>") == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in acme and "<script>alert" not in acme
    # The signature a sender sent is not shown, only its length.
    assert "0" * 64 not in acme


def test_a_source_without_an_active_secret_is_flagged(staff_client, make_source):
    make_source("empty", secrets=[])
    assert "No active secret: every delivery fails verification." in _card(
        staff_client.get(reverse("webhook-sources")).content.decode(), "empty"
    )


def test_no_sources_says_how_to_add_one(staff_client, settings):
    settings.WEBHOOK_SECRETS = {}
    assert "No webhook sources yet." in staff_client.get(reverse("webhook-sources")).content.decode()
