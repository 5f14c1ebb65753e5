"""Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature with whsec_ secrets."""

import base64
import time

import pytest

from webhooks.models import WebhookReceipt
from webhooks.tests.signing import body_of, standard_headers

pytestmark = pytest.mark.django_db

SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-32-by").decode()


@pytest.fixture(autouse=True)
def svix(make_source):
    return make_source("svix", scheme="standard", secrets=[SECRET])


def test_signed_message_is_stored_with_its_type_and_id(deliver):
    body = body_of({"type": "user.created", "timestamp": "2024-01-01T00:00:00Z", "data": {"id": 1}})
    response = deliver("svix", body, standard_headers(SECRET, body, msg_id="msg_1"))
    assert response.status_code == 201
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert (receipt.event, receipt.delivery_id) == ("user.created", "msg_1")
    assert receipt.headers["webhook-id"] == "msg_1"
    assert "webhook-signature" not in receipt.headers


def test_replayed_message_id_is_200_with_the_first_receipt(deliver):
    body = body_of({"type": "user.created"})
    first = deliver("svix", body, standard_headers(SECRET, body, msg_id="msg_2"))
    replay = deliver("svix", body, standard_headers(SECRET, body, msg_id="msg_2"))
    assert (first.status_code, replay.status_code) == (201, 200)
    assert replay.json()["id"] == first.json()["id"]
    assert WebhookReceipt.objects.count() == 1


def test_tampered_body_is_401(deliver):
    body = body_of({"type": "user.created"})
    assert deliver("svix", body_of({"type": "user.deleted"}), standard_headers(SECRET, body)).status_code == 401


def test_changed_message_id_is_401(deliver):
    body = body_of({"type": "user.created"})
    headers = standard_headers(SECRET, body, msg_id="msg_3") | {"webhook-id": "msg_4"}
    assert deliver("svix", body, headers).status_code == 401


@pytest.mark.parametrize("age", [330, -330, 86400])
def test_timestamp_outside_the_tolerance_is_401(deliver, age):
    body = body_of({"type": "user.created"})
    response = deliver("svix", body, standard_headers(SECRET, body, timestamp=int(time.time()) - age))
    assert response.status_code == 401
    assert "tolerance" in response.json()["error"]


def test_any_one_of_several_space_separated_signatures_verifies(deliver):
    body = body_of({"type": "user.created"})
    headers = standard_headers(SECRET, body)
    headers["webhook-signature"] = "v1,Zm9vYmFy v1a,ignored " + headers["webhook-signature"]
    assert deliver("svix", body, headers).status_code == 201


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_400_naming_it(deliver, missing):
    body = body_of({"type": "user.created"})
    headers = standard_headers(SECRET, body)
    del headers[missing]
    response = deliver("svix", body, headers)
    assert response.status_code == 400
    assert response.json()["error"] == f"missing {missing} header"


@pytest.mark.parametrize(
    "changes",
    [{"webhook-timestamp": "soon"}, {"webhook-timestamp": "-1"}, {"webhook-signature": "v2,abc"},
     {"webhook-signature": "v1,"}, {"webhook-signature": "garbage"}, {"webhook-signature": "v1,!!!not-base64!!!"}],
)  # fmt: skip
def test_malformed_headers_are_401(deliver, changes):
    body = body_of({"type": "user.created"})
    response = deliver("svix", body, standard_headers(SECRET, body) | changes)
    assert response.status_code == 401
    assert response.json()["error"]


def test_secret_that_is_not_base64_is_refused_when_added(svix):
    from rest_framework.exceptions import ValidationError

    from webhooks import sources

    with pytest.raises(ValidationError):
        sources.add_secret(source=svix, secret="whsec_not base64!")
