"""The receipts list and one receipt's page: filters, payload, headers and the job started."""

import re
import uuid

import pytest
from django.urls import reverse

from webhooks import sources, views
from webhooks.tests.signing import bespin_headers, body_of, github_headers

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture
def send(make_source, deliver):
    """send(source, payload, **headers): a correctly signed delivery; returns the receipt id."""
    make_source("acme", secrets=["acme-secret"])
    make_source("github", scheme="github", secrets=["gh-secret"])

    def send_(source, payload, delivery=None, **extra):
        body = body_of(payload)
        if source == "github":
            headers = github_headers("gh-secret", body, event=payload.get("action", "push"),
                                     delivery=delivery or str(uuid.uuid4()))  # fmt: skip
        else:
            headers = bespin_headers("acme-secret", body, **extra)
        response = deliver(source, body, headers)
        assert response.status_code == 201, response.content
        return response.json()["id"]

    return send_


def _ids(response) -> list[str]:
    return [str(receipt.id) for receipt in response.context["receipts"]]


def test_receipts_are_listed_newest_first_with_source_event_and_job(staff_client, send):
    first = send("acme", {"event": "build.started"})
    second = send("github", {"action": "opened"})
    response = staff_client.get(reverse("webhook-receipts"))
    assert _ids(response) == [second, first]
    page = response.content.decode()
    assert "<code>build.started</code>" in page and "<code>opened</code>" in page
    assert f'href="{reverse("webhook-receipt", args=[first])}"' in page


def test_filters_by_source_and_event(staff_client, send):
    acme = send("acme", {"event": "build.started"})
    done = send("acme", {"event": "build.done"})
    github = send("github", {})
    assert _ids(staff_client.get(reverse("webhook-receipts"), {"source": "github"})) == [github]
    assert _ids(staff_client.get(reverse("webhook-receipts"), {"source": "acme"})) == [done, acme]
    assert _ids(staff_client.get(reverse("webhook-receipts"), {"event": "build.done"})) == [done]
    assert _ids(staff_client.get(reverse("webhook-receipts"), {"source": "nobody"})) == []


def test_filters_by_time_received(staff_client, send):
    send("acme", {"event": "old"})
    response = staff_client.get(reverse("webhook-receipts"), {"received_after": "2999-01-01T00:00"})
    assert response.status_code == 200 and _ids(response) == []
    assert len(_ids(staff_client.get(reverse("webhook-receipts"), {"received_before": "2999-01-01T00:00"}))) == 1


@pytest.mark.parametrize(
    "query, field",
    [({"source": "Not A Name!"}, "source"), ({"received_after": "yesterday"}, "received_after"),
     ({"event": "e" * 201}, "event")],
)  # fmt: skip
def test_a_bad_filter_is_400_with_the_reason_beside_it(staff_client, send, query, field):
    send("acme", {"event": "x"})
    response = staff_client.get(reverse("webhook-receipts"), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert re.search(rf'<p class="error" id="id_{field}-error">[^<]+</p>', page)
    assert response.context["receipts"] == []


def test_the_list_is_paginated(staff_client, send):
    for i in range(views.PAGE_SIZE + 1):
        send("acme", {"event": f"e{i}"})
    first = staff_client.get(reverse("webhook-receipts"))
    second = staff_client.get(first.context["page"].older)
    assert (len(_ids(first)), len(_ids(second))) == (views.PAGE_SIZE, 1)


def test_a_receipt_shows_its_payload_pretty_printed_and_its_kept_headers(staff_client, send):
    receipt_id = send("acme", {"event": "build.done", "build": {"id": 7, "ok": True}}, **{"User-Agent": "ci/1.0"})
    page = staff_client.get(reverse("webhook-receipt", args=[receipt_id])).content.decode()
    assert "&quot;build&quot;: {\n    &quot;id&quot;: 7,\n    &quot;ok&quot;: true\n  }" in page
    assert "<dt><code>User-Agent</code></dt><dd><code>ci/1.0</code></dd>" in page
    assert "X-Webhook-Signature" not in page
    assert "none: no trigger of this source matched the event" in page


def test_a_receipt_links_the_job_its_trigger_started(staff_client, make_source, deliver):
    source = make_source("ci", secrets=["ci-secret"])
    sources.set_trigger(source=source, event_pattern="build.*", job_kind="random_text", params={"length": 3})
    body = body_of({"event": "build.done"})
    accepted = deliver("ci", body, bespin_headers("ci-secret", body)).json()
    job_url = reverse("job-detail", args=[accepted["job_id"]])
    page = staff_client.get(reverse("webhook-receipt", args=[accepted["id"]])).content.decode()
    assert f'href="{job_url}"' in page and 'class="status status-pending"' in page
    assert f'href="{job_url}"' in staff_client.get(reverse("webhook-receipts")).content.decode()


def test_markup_in_a_payload_or_header_shows_as_text(staff_client, send):
    receipt_id = send("acme", {"event": SCRIPT, "note": SCRIPT}, **{"User-Agent": SCRIPT})
    for url in (reverse("webhook-receipt", args=[receipt_id]), reverse("webhook-receipts")):
        page = staff_client.get(url).content.decode()
        assert SCRIPT not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("receipt_id", [uuid.uuid4(), "not-a-uuid"])
def test_an_unknown_receipt_is_404(staff_client, receipt_id):
    assert staff_client.get(f"/webhooks/{receipt_id}").status_code == 404
