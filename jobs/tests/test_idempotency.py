from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from bespin.testing.threads import at_once
from jobs.models import IdempotencyKey, Job

pytestmark = pytest.mark.django_db(transaction=True)


def _create(api, key, length=5):
    return api.post(f"/api/jobs/random-text?length={length}", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_returns_the_first_job(api, queue):
    first = _create(api, "order-17")
    second = _create(api, "order-17")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1
    assert queue.count == 1


def test_same_key_from_another_client_is_another_job(api, owner, stranger):
    api.force_authenticate(owner)
    mine = _create(api, "k1").json()["id"]
    api.force_authenticate(stranger)
    theirs = _create(api, "k1").json()["id"]
    assert mine != theirs


def test_same_key_with_other_parameters_is_422(api):
    _create(api, "k2", length=5)
    response = _create(api, "k2", length=6)
    assert response.status_code == 422
    assert "different parameters" in response.json()["error"]
    assert Job.objects.count() == 1


def test_a_key_older_than_a_day_starts_a_new_job(api):
    first = _create(api, "k3").json()["id"]
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    second = _create(api, "k3")
    assert second.status_code == 201
    assert second.json()["id"] != first


@pytest.mark.parametrize("key", ["x" * 256, "a\x00b", "tab\there"])
def test_overlong_or_unprintable_key_is_400(api, key):
    response = _create(api, key)
    assert response.status_code == 400
    assert response.json()["error"].startswith("Idempotency-Key")
    assert Job.objects.count() == 0


def test_a_forwarded_for_header_does_not_change_who_the_client_is(api):
    first = _create(api, "k9").json()["id"]
    again = api.post(
        "/api/jobs/random-text?length=5", HTTP_IDEMPOTENCY_KEY="k9", HTTP_X_FORWARDED_FOR="203.0.113.9, " * 50
    )
    assert again.status_code == 200
    assert again.json()["id"] == first


def test_concurrent_requests_with_one_key_create_one_job():
    results = at_once(lambda: _create(APIClient(), "race").json()["id"], 8)
    assert len(set(results)) == 1
    assert Job.objects.count() == 1
