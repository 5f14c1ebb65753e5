"""Each scheme against its provider's own published example, at the scheme and over HTTP."""

import pytest

from webhooks.models import WebhookReceipt
from webhooks.rejections import Reason, Rejected
from webhooks.schemes import SCHEMES
from webhooks.tests.signing import github_headers

pytestmark = pytest.mark.django_db

# https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_PAYLOAD = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# The reference vector of the Standard Webhooks libraries (python/standardwebhooks tests).
STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STANDARD_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STANDARD_TIMESTAMP = 1614265330
STANDARD_PAYLOAD = b'{"test": 2432232314}'
STANDARD_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

# Stripe publishes no fixed vector; this one follows its documented algorithm (HMAC-SHA256 of
# "<t>.<payload>" keyed with the whole whsec_ secret), computed once with `openssl dgst`:
#   printf '1492774577.{"id": "evt_test_webhook", "object": "event"}' |
#     openssl dgst -sha256 -hmac whsec_test_secret
STRIPE_SECRET = "whsec_test_secret"
STRIPE_TIMESTAMP = 1492774577
STRIPE_PAYLOAD = b'{"id": "evt_test_webhook", "object": "event"}'
STRIPE_V1 = "c137b1b62277d523cf8fed4dfbd0170a9a5b8a380e00cc3711d4bf0652f2ce7a"


def _verify(scheme, body, headers, secret, now):
    keys = [SCHEMES[scheme].key(secret)]
    SCHEMES[scheme].verify(body=body, headers=headers, keys=keys, tolerance=300, now=now)


def test_github_documented_example_verifies():
    _verify("github", GITHUB_PAYLOAD, {"X-Hub-Signature-256": GITHUB_SIGNATURE}, GITHUB_SECRET, now=0)


def test_github_documented_example_with_one_byte_changed_is_refused():
    with pytest.raises(Rejected) as refused:
        _verify("github", b"Hello, World?", {"X-Hub-Signature-256": GITHUB_SIGNATURE}, GITHUB_SECRET, now=0)
    assert refused.value.reason == Reason.BAD_SIGNATURE


def test_standard_webhooks_reference_vector_verifies_at_its_own_time():
    headers = {"webhook-id": STANDARD_ID, "webhook-timestamp": str(STANDARD_TIMESTAMP),
               "webhook-signature": STANDARD_SIGNATURE}  # fmt: skip
    _verify("standard", STANDARD_PAYLOAD, headers, STANDARD_SECRET, now=STANDARD_TIMESTAMP + 10)


def test_standard_webhooks_reference_vector_is_stale_today():
    headers = {"webhook-id": STANDARD_ID, "webhook-timestamp": str(STANDARD_TIMESTAMP),
               "webhook-signature": STANDARD_SIGNATURE}  # fmt: skip
    with pytest.raises(Rejected) as refused:
        _verify("standard", STANDARD_PAYLOAD, headers, STANDARD_SECRET, now=STANDARD_TIMESTAMP + 301)
    assert refused.value.reason == Reason.TIMESTAMP_OUT_OF_TOLERANCE


def test_stripe_vector_verifies_at_its_own_time():
    # Stripe also sends a v0 signature in test mode; only v1 counts.
    headers = {"Stripe-Signature": f"t={STRIPE_TIMESTAMP},v1={STRIPE_V1},v0={'0' * 64}"}
    _verify("stripe", STRIPE_PAYLOAD, headers, STRIPE_SECRET, now=STRIPE_TIMESTAMP)


def test_github_example_over_http_is_stored(make_source, deliver):
    make_source("github", scheme="github", secrets=[GITHUB_SECRET])
    body = b'{"zen": "Hello, World!"}'
    response = deliver("github", body, github_headers(GITHUB_SECRET, body, event="ping"))
    assert response.status_code == 201, response.json()
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert (receipt.event, receipt.headers["X-GitHub-Delivery"]) == ("ping", "72d3162e-cc78-11e3-81ab-4c9367dc0958")


def test_standard_reference_vector_over_http_with_the_timestamp_check_off(make_source, deliver):
    make_source("svix", scheme="standard", secrets=[STANDARD_SECRET], tolerance_seconds=0)
    headers = {"webhook-id": STANDARD_ID, "webhook-timestamp": str(STANDARD_TIMESTAMP),
               "webhook-signature": STANDARD_SIGNATURE}  # fmt: skip
    response = deliver("svix", STANDARD_PAYLOAD, headers)
    assert response.status_code == 201, response.json()
    receipt = WebhookReceipt.objects.get(id=response.json()["id"])
    assert (receipt.delivery_id, receipt.payload) == (STANDARD_ID, {"test": 2432232314})


def test_standard_reference_vector_over_http_is_refused_as_stale(make_source, deliver):
    make_source("svix", scheme="standard", secrets=[STANDARD_SECRET])
    headers = {"webhook-id": STANDARD_ID, "webhook-timestamp": str(STANDARD_TIMESTAMP),
               "webhook-signature": STANDARD_SIGNATURE}  # fmt: skip
    response = deliver("svix", STANDARD_PAYLOAD, headers)
    assert response.status_code == 401
    assert "tolerance" in response.json()["error"]
    assert not WebhookReceipt.objects.exists()
