"""`callback_url` when a job is created: through POST /api/jobs, the random-text endpoint and
the dashboard's form, refused (400) when it cannot be used, and shown in the job resource."""

import pytest
from django.urls import reverse

from jobs.models import Job

pytestmark = pytest.mark.django_db
HOOK = "https://hooks.example.com/bespin?team=7"


def _create(api, callback_url, **headers):
    body = {"type": "random_text", "params": {"length": 2}, "callback_url": callback_url}
    return api.post("/api/jobs", body, format="json", **headers)


def test_a_signed_in_owner_with_a_secret_sets_a_callback(api, signer):
    owner, _ = signer
    api.force_authenticate(owner)
    response = _create(api, HOOK)
    assert response.status_code == 201, response.json()
    assert response.json()["callback_url"] == HOOK
    assert Job.objects.get().callback_url == HOOK
    assert api.get(f"/api/jobs/{response.json()['id']}").json()["callback_url"] == HOOK


def test_a_job_without_a_callback_has_an_empty_callback_url(api):
    response = api.post("/api/jobs", {"type": "random_text"}, format="json")
    assert response.status_code == 201
    assert response.json()["callback_url"] == ""


def test_anonymous_jobs_may_not_have_a_callback(api):
    response = _create(api, HOOK)
    assert response.status_code == 400
    assert response.json()["error"].startswith("callback_url: sign in")
    assert not Job.objects.exists()


def test_without_a_signing_secret_the_answer_says_how_to_create_one(api, owner):
    api.force_authenticate(owner)
    response = _create(api, HOOK)
    assert response.status_code == 400
    body = response.json()
    assert "POST /api/me/callback-secret" in body["error"]
    assert list(body["fields"]) == ["callback_url"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "http or https"),
        ("javascript:alert(1)", "http or https"),
        ("https://user:pass@hooks.example.com/", "user name or password"),
        ("https://hooks.example.com@evil.example/", "user name or password"),
        ("http://127.0.0.1:8000/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.10/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0x7f.1/", "loopback"),
        ("http://localhost:8000/", "localhost"),
        ("http://api.localhost/", "localhost"),
        ("https://hooks.example.com:99999/", "port"),
        ("https:///no-host", "no host"),
        ("https://hooks.example.com/a b", "spaces"),
    ],
)
def test_a_url_that_can_never_be_called_is_refused_at_creation(api, signer, settings, url, reason):
    settings.CALLBACK_ALLOW_PRIVATE = False
    api.force_authenticate(signer[0])
    response = _create(api, url)
    assert response.status_code == 400, response.json()
    assert reason in response.json()["error"], response.json()["error"]
    assert not Job.objects.exists()


def test_private_addresses_are_accepted_when_allowed(api, signer, settings):
    settings.CALLBACK_ALLOW_PRIVATE = True
    api.force_authenticate(signer[0])
    assert _create(api, "http://127.0.0.1:9/hook").status_code == 201


def test_the_random_text_endpoint_takes_a_callback_too(api, signer):
    api.force_authenticate(signer[0])
    response = api.post("/api/jobs/random-text?length=3", {"callback_url": HOOK}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["callback_url"] == HOOK
    refused = api.post("/api/jobs/random-text", {"callback_url": "ftp://x.example"}, format="json")
    assert refused.status_code == 400 and "http or https" in refused.json()["error"]


def test_an_idempotency_key_reused_with_another_callback_is_refused(api, signer):
    api.force_authenticate(signer[0])
    first = _create(api, HOOK, HTTP_IDEMPOTENCY_KEY="order-1")
    again = _create(api, HOOK, HTTP_IDEMPOTENCY_KEY="order-1")
    other = _create(api, "https://other.example.com/", HTTP_IDEMPOTENCY_KEY="order-1")
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)


def test_the_dashboard_form_starts_a_job_with_a_callback(client, signer):
    owner, _ = signer
    client.force_login(owner)
    page = client.get(reverse("task-detail", args=["random_text"])).content.decode()
    assert '<label for="random_text-callback_url">Callback URL (optional)</label>' in page
    response = client.post(reverse("job-start"), {"kind": "random_text", "length": "3", "callback_url": HOOK})
    assert response.status_code == 302
    assert Job.objects.get().callback_url == HOOK


def test_the_dashboard_form_shows_a_refused_callback_beside_its_input(client, owner):
    client.force_login(owner)
    response = client.post(reverse("job-start"), {"kind": "random_text", "length": "3", "callback_url": HOOK})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="random_text-callback_url-error"' in page and "POST /api/me/callback-secret" in page
    assert f'value="{HOOK.replace("&", "&amp;")}"' in page
    assert not Job.objects.exists()
