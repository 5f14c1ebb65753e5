"""The size limit (413) is enforced before the body is read: with a Content-Length over it,
without one (chunked), and with one that understates the body; over Django's test client,
the ASGI application and a real Daphne."""

import asyncio
import http.client
import itertools

import pytest

from webhooks.models import WebhookReceipt
from webhooks.selectors import rejection_counts
from webhooks.tests.conftest import LIVE_MAX_BYTES, LIVE_SECRET, asgi_post
from webhooks.tests.signing import bespin_headers, body_of

LIMIT = 1024
SECRET = "size-secret"


@pytest.fixture
def sized(settings):
    """The environment source `sized`, with a size limit of LIMIT bytes."""
    settings.WEBHOOK_MAX_BODY_BYTES = LIMIT
    settings.WEBHOOK_SECRETS = {"sized": [SECRET]}


def _body_of_size(size: int) -> bytes:
    body = body_of({"event": "sized", "pad": ""})
    return body_of({"event": "sized", "pad": "x" * (size - len(body))})


@pytest.mark.django_db
@pytest.mark.usefixtures("sized")
class TestThroughDjango:
    def test_body_at_the_limit_is_accepted(self, deliver):
        body = _body_of_size(LIMIT)
        assert len(body) == LIMIT
        assert deliver("sized", body, bespin_headers(SECRET, body)).status_code == 201

    def test_body_one_byte_over_the_limit_is_413_and_counted(self, deliver):
        body = _body_of_size(LIMIT + 1)
        response = deliver("sized", body, bespin_headers(SECRET, body))
        assert response.status_code == 413
        assert f"limit of {LIMIT} bytes" in response.json()["error"]
        assert not WebhookReceipt.objects.exists()
        assert rejection_counts("sized") == {"too_large": 1}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("sized")
class TestThroughTheAsgiApplication:
    def test_signed_delivery_is_stored_by_the_ingress(self):
        body = body_of({"event": "via.asgi"})
        status, headers, answer, _ = asyncio.run(
            asgi_post("/api/webhooks/sized", [body], bespin_headers(SECRET, body) | {"content-length": len(body)})
        )
        assert status == 201, answer
        assert headers[b"content-type"] == b"application/json"
        assert WebhookReceipt.objects.get().event == "via.asgi"

    def test_declared_length_over_the_limit_is_413_before_any_body_is_read(self):
        status, _, answer, read = asyncio.run(
            asgi_post("/api/webhooks/sized", itertools.repeat(b"x" * 4096), {"content-length": 10 * LIMIT})
        )
        assert status == 413
        assert read == 0
        assert b"limit of 1024 bytes" in answer

    def test_endless_body_without_content_length_is_413_after_limit_bytes(self):
        status, _, _, read = asyncio.run(asgi_post("/api/webhooks/sized", itertools.repeat(b"x" * 100), {}))
        assert status == 413
        assert read == LIMIT // 100 + 1  # stopped at the first chunk past the limit
        assert rejection_counts("sized") == {"too_large": 1}

    def test_understated_content_length_is_413_when_the_body_runs_past_the_limit(self):
        status, _, _, _ = asyncio.run(
            asgi_post("/api/webhooks/sized", [b"x" * 512] * 8, {"content-length": 16})
        )  # fmt: skip
        assert status == 413
        assert not WebhookReceipt.objects.exists()

    def test_chunked_body_under_the_limit_is_verified_as_a_whole(self):
        body = body_of({"event": "in.chunks", "pad": "y" * 600})
        chunks = [body[i : i + 100] for i in range(0, len(body), 100)]
        status, _, answer, _ = asyncio.run(asgi_post("/api/webhooks/sized", chunks, bespin_headers(SECRET, body)))
        assert status == 201, answer


def _raw_post(address, path: str, *, body: bytes, headers: dict, chunked: bool) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(*address, timeout=10)
    try:
        if chunked:
            chunks = (body[i : i + 1000] for i in range(0, len(body), 1000))
            connection.request("POST", path, body=chunks, headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
class TestOverDaphne:
    @pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
    def test_body_over_the_limit_is_413(self, live_daphne, chunked):
        body = _body_of_size(LIVE_MAX_BYTES * 4)
        status, answer = _raw_post(
            live_daphne, "/api/webhooks/live", body=body, headers=bespin_headers(LIVE_SECRET, body), chunked=chunked
        )
        assert status == 413, answer
        assert b"limit of" in answer
        assert not WebhookReceipt.objects.exists()

    @pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
    def test_body_under_the_limit_is_stored(self, live_daphne, chunked):
        body = _body_of_size(LIVE_MAX_BYTES - 10)
        status, answer = _raw_post(
            live_daphne, "/api/webhooks/live", body=body, headers=bespin_headers(LIVE_SECRET, body), chunked=chunked
        )
        assert status == 201, answer
        assert WebhookReceipt.objects.get().source == "live"
