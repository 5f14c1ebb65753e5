"""Text that users or handlers supply is shown as text, never run as markup."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


def test_an_error_and_a_result_with_markup_show_as_text(client, owner, make_job):
    failed = make_job(owner=owner, state="failed", error=SCRIPT)
    done = make_job(owner=owner, state="completed", result=SCRIPT)
    client.force_login(owner)
    for job in (failed, done):
        page = client.get(reverse("job-detail", args=[job.id])).content.decode()
        assert ESCAPED in page and SCRIPT not in page


def test_a_search_with_markup_is_echoed_as_text(client, owner):
    client.force_login(owner)
    page = client.get(reverse("job-list"), {"q": SCRIPT}).content.decode()
    assert f'value="{ESCAPED}"' in page and SCRIPT not in page


def test_a_bad_form_value_with_markup_is_echoed_as_text(client, owner):
    client.force_login(owner)
    page = client.post(reverse("job-start"), {"kind": "random_text", "length": SCRIPT}).content.decode()
    assert f'value="{ESCAPED}"' in page and SCRIPT not in page
