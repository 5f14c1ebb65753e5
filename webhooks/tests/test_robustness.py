"""Property-based: no header value and no body makes ingestion raise (no 500), for every
scheme, through the server's entry point (bespin.asgi) and through the schemes directly."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks import headers as h
from webhooks.headers import Headers
from webhooks.payload import parse_payload
from webhooks.rejections import Rejected
from webhooks.schemes import SCHEMES

SIGNATURE_HEADERS = [
    h.SIGNATURE, h.EVENT, h.GITHUB_SIGNATURE, h.GITHUB_SIGNATURE_SHA1, h.GITHUB_EVENT, h.GITHUB_DELIVERY,
    h.STRIPE_SIGNATURE, h.STANDARD_ID, h.STANDARD_TIMESTAMP, h.STANDARD_SIGNATURE,
]  # fmt: skip
# What a header value can be on the wire: latin-1 text without line breaks.
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=120)
# Values shaped like the real thing, so that the parsers' deeper branches are reached.
shaped_values = st.one_of(
    header_values,
    st.builds(lambda t, s: f"t={t},v1={s}", st.integers(-(10**20), 10**20), st.text("0123456789abcdef", max_size=70)),
    st.builds(lambda s: f"v1,{s}", st.text("ABCDEFabcdef0123456789+/=", max_size=50)),
    st.builds(lambda s: f"sha256={s}", st.text("0123456789abcdefABCDEF", max_size=70)),
    st.integers(-(10**20), 10**20).map(str),
)
header_sets = st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), shaped_values, max_size=6)
bodies = st.one_of(
    st.binary(max_size=300),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    ).map(lambda value: json.dumps(value).encode()),
)


@settings(max_examples=150, deadline=None)
@given(scheme=st.sampled_from(sorted(SCHEMES)), headers=header_sets, body=bodies, tolerance=st.sampled_from([0, 300]))
def test_schemes_verify_or_reject_but_never_raise_anything_else(scheme, headers, body, tolerance):
    implementation = SCHEMES[scheme]
    keys = [implementation.key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    try:
        implementation.verify(body=body, headers=Headers(headers.items()), keys=keys, tolerance=tolerance, now=1.7e9)
    except Rejected as rejection:
        assert 400 <= rejection.status < 500 and rejection.message


@settings(max_examples=150, deadline=None)
@given(body=bodies)
def test_payload_parsing_accepts_or_rejects_but_never_raises_anything_else(body):
    try:
        assert isinstance(parse_payload(body), dict)
    except Rejected as rejection:
        assert rejection.status == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scheme=st.sampled_from(sorted(SCHEMES)), headers=header_sets, body=bodies)
def test_no_header_or_body_makes_the_endpoint_answer_500(deliver, scheme, headers, body):
    from webhooks import config, sources
    from webhooks.models import WebhookSource

    config.forget_source_configs()
    if not WebhookSource.objects.filter(name=scheme).exists():
        source = sources.create_source(name=scheme, scheme=scheme, rate_per_minute=0)
        sources.add_secret(source=source, secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    response = deliver(scheme, body, headers)
    assert response.status_code in (200, 201, 400, 401, 413, 429), response.content
    assert "error" in response.json() or "id" in response.json()
