"""POST /api/me/callback-secret: create or rotate, shown once, signed-in users only."""

import pytest

from callbacks import selectors

pytestmark = pytest.mark.django_db
URL = "/api/me/callback-secret"


def test_anonymous_callers_are_told_to_sign_in(api):
    response = api.post(URL)
    assert response.status_code == 401
    assert "sign in" in response.json()["error"]


def test_the_first_secret_is_created_and_shown_once(api, owner):
    api.force_authenticate(owner)
    response = api.post(URL)
    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["previous_valid_until"] is None
    assert response["Cache-Control"] == "no-store"
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [body["secret"]]}


def test_a_rotation_answers_the_new_secret_and_until_when_the_old_one_signs(api, owner):
    api.force_authenticate(owner)
    first = api.post(URL).json()["secret"]
    response = api.post(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["secret"] != first and body["previous_valid_until"]
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [body["secret"], first]}


def test_a_token_works_too(api, owner):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=owner)
    response = api.post(URL, HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 201


def test_rotations_through_the_api_count_with_the_pages_against_the_credentials_limit(api, owner, settings, redis_conn):
    settings.THROTTLE_CREDENTIALS = "2/h"
    api.force_authenticate(owner)
    assert [api.post(URL).status_code for _ in range(2)] == [201, 200]
    secret = selectors.signing_secrets(user_ids=[owner.pk])[owner.pk]
    refused = api.post(URL)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert selectors.signing_secrets(user_ids=[owner.pk])[owner.pk] == secret  # nothing changed
