"""Stripe: Stripe-Signature t=…,v1=…, the timestamp tolerance, the event's type and id."""

import time

import pytest

from webhooks.models import WebhookReceipt
from webhooks.tests.signing import body_of, hex_hmac, stripe_headers

pytestmark = pytest.mark.django_db

SECRET = "whsec_5tripe7est"
EVENT = {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": "invoice.paid", "data": {"object": {}}}


@pytest.fixture(autouse=True)
def stripe(make_source):
    return make_source("stripe", scheme="stripe", secrets=[SECRET], tolerance_seconds=300)


def test_signed_event_is_stored_with_its_type_and_id(deliver):
    body = body_of(EVENT)
    response = deliver("stripe", body, stripe_headers(SECRET, body))
    assert response.status_code == 201
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert (receipt.event, receipt.delivery_id) == ("invoice.paid", EVENT["id"])


def test_stripe_retry_of_the_same_event_is_200_with_the_first_receipt(deliver):
    body = body_of(EVENT)
    first = deliver("stripe", body, stripe_headers(SECRET, body, timestamp=int(time.time()) - 60))
    retry = deliver("stripe", body, stripe_headers(SECRET, body))
    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["id"] == first.json()["id"]
    assert WebhookReceipt.objects.count() == 1


def test_tampered_body_is_401(deliver):
    body = body_of(EVENT)
    response = deliver("stripe", body.replace(b"invoice.paid", b"invoice.void"), stripe_headers(SECRET, body))
    assert response.status_code == 401
    assert not WebhookReceipt.objects.exists()


def test_tampered_timestamp_is_401(deliver):
    body = body_of(EVENT)
    t = int(time.time())
    signature = hex_hmac(SECRET, f"{t}.".encode() + body)
    response = deliver("stripe", body, {"Stripe-Signature": f"t={t + 1},v1={signature}"})
    assert response.status_code == 401


@pytest.mark.parametrize("age", [330, 3600, -330])
def test_timestamp_outside_the_tolerance_is_401_even_when_signed(deliver, age):
    body = body_of(EVENT)
    response = deliver("stripe", body, stripe_headers(SECRET, body, timestamp=int(time.time()) - age))
    assert response.status_code == 401
    assert "tolerance 300 s" in response.json()["error"]


def test_timestamp_inside_the_tolerance_passes(deliver):
    body = body_of(EVENT)
    assert deliver("stripe", body, stripe_headers(SECRET, body, timestamp=int(time.time()) - 250)).status_code == 201


def test_any_one_of_several_v1_signatures_verifies(deliver):
    body = body_of(EVENT)
    t = int(time.time())
    good = hex_hmac(SECRET, f"{t}.".encode() + body)
    response = deliver("stripe", body, {"Stripe-Signature": f"t={t},v1={'0' * 64},v1={good},v0={'1' * 64}"})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "header",
    ["v1=abc", "t=abc,v1=" + "0" * 64, "t=1,t=2,v1=" + "0" * 64, "t=" + str(int(time.time())), "t=-5,v1=00",
     ",,,", "t=,v1=", "t=\u0661\u0662,v1=" + "0" * 64],
)  # fmt: skip
def test_malformed_header_is_401_with_the_expected_form(deliver, header):
    response = deliver("stripe", body_of(EVENT), {"Stripe-Signature": header})
    assert response.status_code == 401
    assert "Stripe-Signature" in response.json()["error"]


def test_missing_header_is_400(deliver):
    response = deliver("stripe", body_of(EVENT))
    assert response.status_code == 400
    assert response.json()["error"] == "missing Stripe-Signature header"
