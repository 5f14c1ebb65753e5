"""Signatures as the Standard Webhooks spec defines them, checked against its published
reference vector and the reference library, and both secrets signing during a rotation."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from callbacks import selectors, services, signing
from callbacks.models import CallbackSecret

# The reference vector of the Standard Webhooks libraries (also in webhooks' own tests).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_reference_vector_is_signed_exactly():
    signed = signing.signature(
        webhook_id=VECTOR_ID, timestamp=VECTOR_TIMESTAMP, body=VECTOR_PAYLOAD, secrets=[VECTOR_SECRET]
    )
    assert signed == VECTOR_SIGNATURE


def test_the_reference_library_signs_what_we_sign():
    secret = signing.new_secret()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = Webhook(secret).sign("msg_1", at, '{"id": "é"}')
    assert signing.signature(webhook_id="msg_1", timestamp=int(at.timestamp()), body='{"id": "é"}'.encode(),
                             secrets=[secret]) == expected  # fmt: skip


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = signing.new_secret(), signing.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_two_secrets_give_two_signatures_separated_by_a_space():
    old, new = signing.new_secret(), signing.new_secret()
    header = signing.signature(webhook_id="msg_1", timestamp=1, body=b"{}", secrets=[new, old])
    assert header.split(" ") == [
        signing.signature(webhook_id="msg_1", timestamp=1, body=b"{}", secrets=[new]),
        signing.signature(webhook_id="msg_1", timestamp=1, body=b"{}", secrets=[old]),
    ]


@pytest.mark.django_db
def test_the_secret_is_stored_encrypted(owner):
    secret = services.rotate_callback_secret(user=owner).secret
    row = CallbackSecret.objects.get(user=owner)
    assert secret not in row.ciphertext and secret.removeprefix("whsec_") not in row.ciphertext
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [secret]}


@pytest.mark.django_db
def test_after_a_rotation_both_secrets_sign_for_24_hours_then_only_the_new_one(owner):
    old = services.rotate_callback_secret(user=owner).secret
    rotated = services.rotate_callback_secret(user=owner)
    assert rotated.replaced and rotated.secret != old
    now = datetime.now(UTC)
    assert selectors.signing_secrets(user_ids=[owner.pk], now=now) == {owner.pk: [rotated.secret, old]}
    assert selectors.signing_secrets(user_ids=[owner.pk], now=now + timedelta(hours=23, minutes=59)) == {
        owner.pk: [rotated.secret, old]
    }
    assert selectors.signing_secrets(user_ids=[owner.pk], now=now + timedelta(hours=24, minutes=1)) == {
        owner.pk: [rotated.secret]
    }


@pytest.mark.django_db
def test_a_second_rotation_within_the_overlap_drops_the_oldest(owner):
    first = services.rotate_callback_secret(user=owner).secret
    second = services.rotate_callback_secret(user=owner).secret
    third = services.rotate_callback_secret(user=owner).secret
    assert selectors.signing_secrets(user_ids=[owner.pk]) == {owner.pk: [third, second]}
    assert first not in selectors.signing_secrets(user_ids=[owner.pk])[owner.pk]
